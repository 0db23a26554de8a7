//! Inventory: INI and YAML sources, groups and host variables, and host patterns.
