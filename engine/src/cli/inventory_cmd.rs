//! `ply inventory --list | --graph | --host`, printing what ansible-inventory prints.

use super::args::InventoryArgs;
use crate::error::Result;
use crate::inventory::Inventory;

pub fn run(args: &InventoryArgs) -> Result<u8> {
    let inventory = Inventory::load(&args.inventory)?;
    super::reporting::print_warnings(inventory.warnings());
    if args.list {
        println!(
            "{}",
            crate::inventory::to_python_json(&inventory.list_json())
        );
    } else if let Some(host) = &args.host {
        println!(
            "{}",
            crate::inventory::to_python_json(&inventory.host_json(host)?)
        );
    } else {
        println!(
            "{}",
            inventory
                .graph(args.group.as_deref())?
                .trim_end_matches('\n')
        );
    }
    Ok(0)
}
