//! Autotask form values: the webservices zone as users type it.
