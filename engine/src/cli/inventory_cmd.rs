//! `ply inventory --list | --graph | --host`, printing what ansible-inventory prints.

use super::args::InventoryArgs;
use crate::error::Result;
use crate::inventory::Inventory;

pub fn run(args: &InventoryArgs) -> Result<u8> {
    let inventory = Inventory::load(&args.inventory)?;
    if args.list {
        println!("{}", serde_json::to_string_pretty(&inventory.list_json()).unwrap_or_default());
    } else if let Some(host) = &args.host {
        println!("{}", serde_json::to_string_pretty(&inventory.host_json(host)?).unwrap_or_default());
    } else {
        println!("{}", inventory.graph(args.group.as_deref())?.trim_end_matches('\n'));
    }
    Ok(0)
}
