//! The fault scenarios (issue 24), for the verify and proxy test binaries
//! alike (each includes this file with `#[path]`): read from the built-in
//! database, so a new fault scenario is tested in process and black-box
//! without a list to keep in step.

/// The id of every built-in scenario that injects a fault, sorted.
pub fn ids() -> Vec<String> {
    let database = gauntlet::scenario::builtin().unwrap_or_else(|_| panic!("the built-in scenarios load"));
    let ids: Vec<String> = database.into_iter().filter(|l| !l.scenario.faults.is_empty()).map(|l| l.scenario.id).collect();
    // Never a green run that tested nothing.
    assert!(ids.len() >= 10, "the database holds at least the ten fault scenarios of issue 24: {ids:?}");
    ids
}
