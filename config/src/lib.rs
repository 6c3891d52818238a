//! The appliance configuration: one TOML file for ports, cores and the LISP site.
