//! Outcomes for tests of the verdicts and of everything that reads them.

use crate::agent::TraceStep;
use crate::verify::blame::{Blame, PolicyLocation};
use crate::verify::{Finding, Outcome, Timeline, TwinResult, Verdict, WindowBound};

fn step(at_ns: i64) -> TraceStep {
    TraceStep {
        at_ns,
        session: 1,
        identity: 1,
        method: "tools/call",
        tool: Some("t".into()),
        arguments: Some(serde_json::json!({})),
        raw: None,
    }
}

pub fn outcome(id: &str, tool: &str, verdict: Verdict, finding: Option<Finding>, reached: usize) -> Outcome {
    Outcome {
        scenario: id.into(),
        title: format!("{id} title").into(),
        class: "bulk-writes".into(),
        server: "aksjah".into(),
        tool: tool.into(),
        verdict,
        finding,
        severity: finding.map(|_| crate::verify::severity::Severity::High),
        attempted: 200,
        reached,
        bound: "≤30 reached per 1m sliding".into(),
        observed: format!("{reached} in 1m").into(),
        note: None,
        trace: if verdict == Verdict::Breached { vec![step(0)] } else { vec![] },
        trace_from: 200,
        seed: 9,
        reproduce: (verdict == Verdict::Breached).then(|| format!("gauntlet verify p.yaml --only {id} --seed 1").into()),
        twin: Some(Box::new(TwinResult { tool: tool.into(), attempted: 5, reached: 5, refused: None, refused_arguments: None, trace: vec![], workload: Default::default() })),
        denial: None,
        behaviour: None,
        blame: (finding == Some(Finding::Policy)).then(|| {
            Box::new(Blame {
                location: PolicyLocation { file: "examples/p.yaml".into(), line: 7 },
                rule: Some("limit".into()),
                reason: "the rate limit is too loose".into(),
                denial: None,
            })
        }),
        // 200 calls over 100 s; the first `reached` reached the server.
        timeline: matches!(verdict, Verdict::Held | Verdict::Breached).then(|| {
            Box::new(Timeline {
                sent: (0..200).map(|i| i * 500_000_000).collect(),
                reached: (0..reached as i64).map(|i| i * 500_000_000).collect(),
                bound: Some(WindowBound { count: 30, window: 60_000_000_000, sliding: true }),
            })
        }),
        check: None,
        denial_texts: Vec::new(),
        deployment: None,
        same_class_as: None,
    }
}
