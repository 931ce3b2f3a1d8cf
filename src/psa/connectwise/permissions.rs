//! The security-role rows the setup guide asks for, where each is fixed in ConnectWise, and
//! which API paths each one gates (so a 403 can name the missing permission).

use crate::psa::PsaError;

/// One row of the guide's role table.
#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    /// Module as ConnectWise's Security Roles screen names it.
    pub module: &'static str,
    /// Function within the module.
    pub function: &'static str,
    /// The access levels the guide asks for.
    pub levels: &'static [Level],
    /// A read-only request whose success shows Inquire works; `None` when none does.
    pub probe: Option<&'static str>,
    /// Why there is no probe, shown when the row cannot be checked otherwise.
    pub unprobed_because: &'static str,
}

/// A column of the Security Roles screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Inquire,
    Add,
    Edit,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Self::Inquire => "Inquire",
            Self::Add => "Add",
            Self::Edit => "Edit",
        }
    }
}

use Level::{Add, Edit, Inquire};

pub const COMPANY_MAINTENANCE: Requirement = Requirement {
    module: "Companies",
    function: "Company Maintenance",
    levels: &[Inquire],
    probe: Some("company/companies/count"),
    unprobed_because: "",
};

pub const AGREEMENTS: Requirement = Requirement {
    module: "Finance",
    function: "Agreements",
    levels: &[Inquire, Add, Edit],
    probe: Some("finance/agreements/count"),
    unprobed_because: "",
};

/// The guide's table, in its order.
pub const GUIDE: [Requirement; 9] = [
    COMPANY_MAINTENANCE,
    Requirement {
        module: "Companies",
        function: "Contacts",
        levels: &[Inquire, Add, Edit],
        probe: Some("company/contacts/count"),
        unprobed_because: "",
    },
    AGREEMENTS,
    Requirement {
        module: "Finance",
        function: "Agreement Invoicing",
        levels: &[Inquire],
        probe: None,
        unprobed_because: "no read-only API request depends on it alone",
    },
    Requirement {
        module: "Finance",
        function: "Invoicing",
        levels: &[Inquire],
        probe: None,
        unprobed_because: "no read-only API request depends on it alone",
    },
    Requirement {
        module: "Procurement",
        function: "Product Catalog",
        levels: &[Inquire],
        probe: Some("procurement/catalog/count"),
        unprobed_because: "",
    },
    Requirement {
        module: "Procurement",
        function: "Products",
        levels: &[Inquire],
        probe: Some("procurement/products/count"),
        unprobed_because: "",
    },
    Requirement {
        module: "Service Desk",
        function: "Service Tickets",
        levels: &[Inquire, Add],
        probe: Some("service/tickets/count"),
        unprobed_because: "",
    },
    Requirement {
        module: "System",
        function: "Table Setup",
        levels: &[Inquire, Edit],
        probe: None,
        unprobed_because: "ConnectWise answers setup-table reads even without this permission, so only an edit would show it",
    },
];

impl Requirement {
    /// "Companies > Company Maintenance".
    pub fn item(&self) -> String {
        format!("{} > {}", self.module, self.function)
    }

    /// Where in ConnectWise to grant it.
    pub fn fix(&self) -> String {
        let levels: Vec<&str> = self.levels.iter().map(|l| l.name()).collect();
        format!(
            "In ConnectWise: System > Security Roles > (the API member's role) > {} > {}: set {} to All.",
            self.module,
            self.function,
            levels.join(", ")
        )
    }
}

/// The requirement an API path depends on, for naming a 403.
pub fn for_path(path: &str) -> Option<&'static Requirement> {
    let prefix = |p: &str| {
        GUIDE
            .iter()
            .find(|r| r.probe.is_some_and(|probe| probe.starts_with(p)))
    };
    let area = [
        "company/companies",
        "company/contacts",
        "finance/agreements",
        "procurement/catalog",
        "procurement/products",
        "service/tickets",
    ]
    .into_iter()
    .find(|area| path.starts_with(area))?;
    prefix(area)
}

/// The error for a 403 on `path`.
pub fn missing_for_path(path: &str) -> PsaError {
    match for_path(path) {
        Some(req) => PsaError::PermissionMissing { item: req.item(), fix: req.fix() },
        None => PsaError::PermissionMissing {
            item: format!("access to {path}"),
            fix: "In ConnectWise: System > Security Roles > (the API member's role): compare it with the setup guide's table.".into(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_path_names_the_permission_and_the_menu_that_grants_it() {
        let PsaError::PermissionMissing { item, fix } =
            missing_for_path("finance/agreements/812/additions")
        else {
            panic!("not a permission error");
        };
        assert_eq!(item, "Finance > Agreements");
        assert!(
            fix.starts_with("In ConnectWise: System > Security Roles >"),
            "{fix}"
        );
        assert!(fix.contains("Inquire, Add, Edit"), "{fix}");
    }

    #[test]
    fn companies_and_catalog_paths_map_to_their_rows() {
        assert_eq!(
            for_path("company/companies").map(|r| r.function),
            Some("Company Maintenance")
        );
        assert_eq!(
            for_path("procurement/catalog/count").map(|r| r.function),
            Some("Product Catalog")
        );
        assert!(for_path("system/info").is_none());
    }
}
