//! Verdict snapshots of every weak/hardened example policy (and the seed
//! catalogue policy) against the whole attack database, stored in
//! `snapshots/`: any change in the engine, the proxy or the scenarios shows
//! up as a reviewed diff.

use std::path::PathBuf;

use gauntlet::cli::verify::{build_report, Args};
use gauntlet::report::snapshot;
use gauntlet::verify::Verdict;

fn args(policy: &str) -> Args {
    Args {
        policy: PathBuf::from(policy),
        server: vec![],
        scenarios: PathBuf::from("scenarios"),
        only: vec![],
        profile: None,
        seed: Some(1),
        format: "table".into(),
        snapshot: None,
        accept: false,
        fail_on_proxy_findings: false,
    }
}

fn check(name: &str, policy: &str) -> gauntlet::report::Report {
    let report = build_report(&args(policy), false).unwrap_or_else(|e| panic!("{policy}: {e}"));
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, snapshot::render(&report));
    });
    report
}

#[test]
fn hardened_policies_verify_clean_under_intercept() {
    for server in ["aksjah", "ezbiz", "payments"] {
        let r = check(&format!("{server}-hardened"), &format!("examples/{server}-hardened.yaml"));
        assert_eq!(r.summary.policy_findings, 0, "{server}-hardened has policy findings");
        assert_eq!(r.summary.errors, 0);
        assert!(r.summary.held > 10, "{server}-hardened: too few held outcomes to mean anything");
    }
}

#[test]
fn weak_policies_have_policy_findings() {
    for server in ["aksjah", "ezbiz", "payments"] {
        let r = check(&format!("{server}-weak"), &format!("examples/{server}-weak.yaml"));
        assert!(r.summary.policy_findings > 0, "{server}-weak verified clean");
    }
}

#[test]
fn seed_catalogue_limit_holds_but_malformed_arguments_get_through() {
    let r = check("aksjah-catalogue", "examples/aksjah-catalogue.yaml");
    let find = |id: &str| {
        r.outcomes
            .iter()
            .find(|o| o.scenario == id && o.tool == "WizCommerce Open API_PostCustomers")
            .unwrap_or_else(|| panic!("no {id} outcome"))
    };
    assert_eq!(find("bulk-write-burst").verdict, Verdict::Held);
    assert_eq!(find("bulk-write-burst").reached, 30);
    assert_eq!(find("malformed-arguments").verdict, Verdict::Breached);
    assert_eq!(find("window-edge-burst").verdict, Verdict::Breached);
}
