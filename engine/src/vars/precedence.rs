//! Ansible's variable precedence for the sources ply supports, lowest first. A later level replaces a
//! whole value of an earlier one (`hash_behaviour=replace`): dictionaries are not merged.

use super::VarMap;
use serde_json::Value;

/// Where a set of variables comes from, in precedence order (each beats the ones above it).
/// Inventory levels (group vars files, group_vars/ and host_vars/ beside inventory and playbook) are merged
/// by the inventory itself and enter here as one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    RoleDefaults,
    Inventory,
    Facts,
    PlayVars,
    VarsFiles,
    RoleVars,
    BlockVars,
    TaskVars,
    IncludeVars,
    SetFactAndRegistered,
    RoleParams,
    IncludeParams,
    ExtraVars,
}

/// Variable sets gathered for one host and task, combined on demand.
#[derive(Clone, Debug, Default)]
pub struct VarLayers {
    layers: Vec<(Level, VarMap)>,
}

impl VarLayers {
    pub fn new() -> Self {
        VarLayers::default()
    }

    /// Adds a set at a level. Within one level, sets added later win (inner blocks, later vars_files).
    pub fn add(&mut self, level: Level, vars: VarMap) -> &mut Self {
        self.layers.push((level, vars));
        self
    }

    /// Facts count twice, as Ansible injects them: under `ansible_facts`, and as top-level `ansible_*`.
    pub fn add_facts(&mut self, facts: &VarMap) -> &mut Self {
        let mut injected = VarMap::new();
        for (name, value) in facts {
            let top_level = if name.starts_with("ansible_") {
                name.clone()
            } else {
                format!("ansible_{name}")
            };
            injected.insert(top_level, value.clone());
        }
        injected.insert("ansible_facts".into(), Value::Object(facts.clone()));
        self.add(Level::Facts, injected)
    }

    /// All variables, highest precedence winning.
    pub fn merged(&self) -> VarMap {
        let mut ordered: Vec<&(Level, VarMap)> = self.layers.iter().collect();
        // Stable: sets of one level keep the order they were added in.
        ordered.sort_by_key(|(level, _)| *level);
        let mut merged = VarMap::new();
        for (_, vars) in ordered {
            for (name, value) in vars {
                merged.insert(name.clone(), value.clone());
            }
        }
        merged
    }

    /// Which level a variable's value comes from, for `-vvv` explanations and tests.
    pub fn origin(&self, name: &str) -> Option<Level> {
        self.layers
            .iter()
            .filter(|(_, vars)| vars.contains_key(name))
            .map(|(level, _)| *level)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(value: Value) -> VarMap {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn each_level_beats_the_ones_below_it() {
        let levels = [
            Level::RoleDefaults,
            Level::Inventory,
            Level::Facts,
            Level::PlayVars,
            Level::VarsFiles,
            Level::RoleVars,
            Level::BlockVars,
            Level::TaskVars,
            Level::IncludeVars,
            Level::SetFactAndRegistered,
            Level::RoleParams,
            Level::IncludeParams,
            Level::ExtraVars,
        ];
        // Add them highest first, so that only the ordering (not insertion) can make the right one win.
        for (index, winner) in levels.iter().enumerate() {
            let mut layers = VarLayers::new();
            for level in levels[..=index].iter().rev() {
                layers.add(*level, vars(json!({"x": format!("{level:?}")})));
            }
            assert_eq!(layers.merged()["x"], json!(format!("{winner:?}")));
            assert_eq!(layers.origin("x"), Some(*winner));
        }
    }

    #[test]
    fn dictionaries_are_replaced_not_merged() {
        let mut layers = VarLayers::new();
        layers.add(
            Level::RoleDefaults,
            vars(json!({"pg": {"port": 5432, "user": "postgres"}})),
        );
        layers.add(Level::PlayVars, vars(json!({"pg": {"port": 5433}})));
        assert_eq!(layers.merged()["pg"], json!({"port": 5433}));
    }

    #[test]
    fn later_sets_of_one_level_win() {
        let mut layers = VarLayers::new();
        layers.add(Level::BlockVars, vars(json!({"a": "outer", "b": "outer"})));
        layers.add(Level::BlockVars, vars(json!({"a": "inner"})));
        assert_eq!(
            Value::Object(layers.merged()),
            json!({"a": "inner", "b": "outer"})
        );
    }

    #[test]
    fn facts_are_injected_as_ansible_variables() {
        let mut layers = VarLayers::new();
        layers.add_facts(&vars(
            json!({"hostname": "db1", "ansible_distribution": "Debian"}),
        ));
        let merged = layers.merged();
        assert_eq!(merged["ansible_hostname"], json!("db1"));
        assert_eq!(merged["ansible_distribution"], json!("Debian"));
        assert_eq!(merged["ansible_facts"]["hostname"], json!("db1"));
    }
}
