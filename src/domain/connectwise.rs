//! ConnectWise form values: company ID and site (cloud region or self-hosted URL).
