//! The shipped server files load and say what the catalogue says, and a bad
//! server file stops `gauntlet mock` with file:line:column and help.

use std::path::Path;
use std::process::Command;

use gauntlet::mock::{Risk, ServerSpec};

fn load(name: &str) -> ServerSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mock-servers")
        .join(name);
    ServerSpec::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn risks(spec: &ServerSpec) -> Vec<(&str, Risk, bool)> {
    spec.tools
        .iter()
        .map(|t| (t.name.as_str(), t.risk, t.stand_in))
        .collect()
}

#[test]
fn aksjah_has_the_catalogue_tools_and_marked_stand_ins() {
    let s = load("aksjah.yaml");
    assert_eq!(
        risks(&s),
        [
            ("WizCommerce Open API_PostCustomers", Risk::Write, false),
            ("WizCommerce Open API_GetCustomers", Risk::Read, false),
            (
                "WizCommerce Open API_DeleteCustomer",
                Risk::Destructive,
                true
            ),
            ("WizCommerce Open API_PostOrders", Risk::Write, true),
            ("WizCommerce Open API_GetProducts", Risk::Read, true),
        ]
    );
    let props = |i: usize| {
        s.tools[i].input_schema["properties"]
            .as_object()
            .map_or(0, |p| p.len())
    };
    assert_eq!((props(0), props(1)), (46, 10));
    assert_eq!(s.tools[0].description, "List Attributes");
}

#[test]
fn ezbiz_has_eight_tools_and_the_seed_description() {
    let s = load("ezbiz.yaml");
    let reads = s.tools.iter().filter(|t| t.risk == Risk::Read).count();
    assert_eq!((s.tools.len(), reads), (8, 6));
    let persona = s.tool("customer_persona").expect("customer_persona");
    assert_eq!(persona.risk, Risk::Execute);
    assert_eq!(
        persona.description,
        "\u{1F512} [Pro] Build detailed customer personas with demographics, psychographics, buying behavior, and pain points. Uses real market data to create actionable buyer profiles."
    );
    assert_eq!(
        s.tool("business_plan_section").map(|t| t.risk),
        Some(Risk::Write)
    );
}

#[test]
fn payments_is_stripe_shaped() {
    let s = load("payments.yaml");
    assert_eq!(
        risks(&s),
        [
            ("create_charge", Risk::Financial, false),
            ("create_refund", Risk::Financial, false),
            ("list_customers", Risk::Read, false),
            ("delete_customer", Risk::Destructive, false),
        ]
    );
    let charge = &s.tools[0].input_schema;
    assert_eq!(charge["properties"]["amount"]["type"], "integer");
    assert_eq!(
        charge["required"],
        serde_json::json!(["amount", "currency", "customer"])
    );
}

#[test]
fn a_bad_server_file_names_the_place_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "name: x\nversion: '1'\ntools:\n  - name: a\n    description: d\n    inputSchema: {type: object}\n    risk: exec\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("mock")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:7:11:", file.display())), "{err}");
    assert!(
        err.contains("help: `risk` is one of read, write, execute, financial, destructive"),
        "{err}"
    );
}
