//! Variables: Ansible's precedence order and the magic variables.
