//! The admission model (`engine::admission`) against the conformance
//! vectors: every decision the arguments alone settle must be the model's.

use std::sync::Arc;

use gauntlet::engine::Engine;
use gauntlet::profile::Profile;
use serde_json::{Map, Value as Json};

/// Every decision of the conformance vectors that the arguments alone
/// settle: a call the model refuses must be denied; on a tool without
/// counters, a call the model admits must be allowed.
#[test]
fn the_model_agrees_with_the_conformance_vectors() {
    let mut checked = 0;
    for file in ["../shared/conformance/intercept-vectors.yaml", "conformance/loader-vectors.yaml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let vectors = gauntlet::conformance::parse(&text, file).expect("vectors parse");
        for v in vectors.vectors {
            use gauntlet::conformance::format::{Expect, VectorKind};
            if !matches!(v.kind, VectorKind::Decision | VectorKind::Wire) || v.store_mode.is_some() {
                continue;
            }
            let Ok(policy) = gauntlet::policy::load_intercept(&v.policy) else { continue };
            let e = Engine::new(Arc::new(policy), Profile::Intercept);
            for step in &v.calls {
                if step.reload.is_some() {
                    break;
                }
                let (Some(tool), Some(expect)) = (&step.tool, step.expect) else { continue };
                if step.raw.is_some() || expect == Expect::Passthrough {
                    continue;
                }
                let args: Option<Map<String, Json>> = match step.arguments.as_deref().map(serde_json::from_str::<Json>) {
                    None | Some(Ok(Json::Null)) => None,
                    Some(Ok(Json::Object(m))) => Some(m),
                    _ => continue,
                };
                let model = e.admission().tool(tool);
                let admits = model.admits(args.as_ref()).unwrap_or_else(|gauntlet::engine::admission::Unknown(w)| panic!("{}: unknown ({w})", v.id));
                // Counters decide the rest: only a tool with neither counter
                // conditions nor limits is settled by its arguments alone.
                let stateless = model.rules.state.is_empty() && model.rules.limits.is_empty();
                if !admits {
                    assert_eq!(expect, Expect::Deny, "{}: the model refuses {tool} {args:?}", v.id);
                    checked += 1;
                } else if stateless {
                    assert_eq!(expect, Expect::Allow, "{}: the model admits {tool} {args:?}", v.id);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 30, "only {checked} decisions checked");
}
