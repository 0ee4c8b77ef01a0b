//! Observe: reading the guest's records back, trusting nothing.
//!
//! A record file is accepted only when every line parses, every record carries this run's nonce,
//! the sequence is hello → preflight → one record per planned case → done, and `done` counts
//! the cases. Anything else is a harness error: lockgate never reports a pass it did not observe.

use lockgate_protocol::{CaseObservation, GuestTiming, Preflight, Record, VERSION};
use std::collections::BTreeMap;

/// Why a boot's records are not a whole observation: each is a harness error, never a pass. A
/// type of its own, so that the pool can tell how the guest stopped from what the records say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record line {line} is garbled ({error}): `{shown}`")]
    Garbled { line: usize, error: String, shown: String },
    #[error("record line {line} carries nonce `{nonce}`, not this run's: a stale or replayed record")]
    ForeignNonce { line: usize, nonce: String },
    #[error("record line {line} comes after the final record")]
    AfterFinal { line: usize },
    #[error("the guest speaks protocol {guest}, the host {host}: rebuild the guest image")]
    Protocol { guest: u32, host: u32 },
    #[error("record line {line} reports case `{case}`, which the plan does not contain")]
    UnplannedCase { line: usize, case: String },
    #[error("record line {line} reports a case twice")]
    CaseTwice { line: usize },
    #[error("the guest agent failed: {0}")]
    AgentFailed(String),
    #[error("the guest sent no records at all (its agent never started, or the record port stayed silent)")]
    Silent,
    #[error("the guest sent no preflight record")]
    NoPreflight,
    #[error("the guest never sent its final record ({reported} of {planned} cases reported; missing: {missing})")]
    NoFinalRecord { reported: usize, planned: usize, missing: String },
    #[error("the final record counts {counted} cases, {arrived} arrived, {planned} were planned")]
    Miscounted { counted: usize, arrived: usize, planned: usize },
}

#[derive(Debug, Clone)]
pub struct Observations {
    pub preflight: Preflight,
    pub cases: BTreeMap<String, CaseObservation>,
    /// Where the guest's time went (for `cargo xtask bench`; never judged).
    pub timing: Option<GuestTiming>,
}

/// Parse the record port's content. `planned` lists the case ids the plan asked for.
pub fn read_records(text: &str, nonce: &str, planned: &[String]) -> Result<Observations, RecordError> {
    let mut preflight = None;
    let mut cases = BTreeMap::new();
    let mut hello = false;
    let mut done = None;
    let mut timing = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let record: Record = serde_json::from_str(line).map_err(|e| RecordError::Garbled {
            line: n,
            error: e.to_string(),
            shown: line.chars().take(120).collect(),
        })?;
        if record.nonce() != nonce {
            return Err(RecordError::ForeignNonce { line: n, nonce: record.nonce().to_string() });
        }
        if done.is_some() {
            return Err(RecordError::AfterFinal { line: n });
        }
        match record {
            Record::Hello { version, .. } => {
                if version != VERSION {
                    return Err(RecordError::Protocol { guest: version, host: VERSION });
                }
                hello = true;
            }
            Record::Preflight { preflight: p, .. } => preflight = Some(p),
            Record::Case { case, .. } => {
                if !planned.contains(&case.id) {
                    return Err(RecordError::UnplannedCase { line: n, case: case.id });
                }
                if cases.insert(case.id.clone(), case).is_some() {
                    return Err(RecordError::CaseTwice { line: n });
                }
            }
            Record::Fault { message, .. } => return Err(RecordError::AgentFailed(message)),
            Record::Done { cases: count, timing: t, .. } => {
                done = Some(count);
                timing = t;
            }
        }
    }
    if !hello {
        return Err(RecordError::Silent);
    }
    let preflight = preflight.ok_or(RecordError::NoPreflight)?;
    let Some(count) = done else {
        let missing: Vec<&str> = planned.iter().filter(|id| !cases.contains_key(*id)).map(String::as_str).collect();
        return Err(RecordError::NoFinalRecord {
            reported: cases.len(),
            planned: planned.len(),
            missing: missing.join(", "),
        });
    };
    if count != cases.len() || count != planned.len() {
        return Err(RecordError::Miscounted { counted: count, arrived: cases.len(), planned: planned.len() });
    }
    Ok(Observations { preflight, cases, timing })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_protocol::{AbiProbe, RunObservation};

    fn rec(r: &Record) -> String {
        serde_json::to_string(r).unwrap()
    }

    fn full(nonce: &str) -> Vec<String> {
        vec![
            rec(&Record::Hello { nonce: nonce.into(), version: VERSION }),
            rec(&Record::Preflight {
                nonce: nonce.into(),
                preflight: Preflight {
                    release: "6.8".into(),
                    lsm: None,
                    securityfs_mounted: None,
                    landlock: AbiProbe::Abi(4),
                    seccomp: None,
                    cmdline: String::new(),
                    seccomp_filter: None,
                    config: None,
                    entries: None,
                    yama_ptrace_scope: None,
                    userns_restricted: None,
                    modules: Vec::new(),
                    overlayfs: None,
                },
            }),
            rec(&Record::Case {
                nonce: nonce.into(),
                case: CaseObservation {
                    id: "s@bare".into(),
                    landlock: AbiProbe::Abi(4),
                    environment_error: None,
                    unlayered: None,
                    outside: None,
                    control: RunObservation::default(),
                    enforced: RunObservation::default(),
                },
            }),
            rec(&Record::Done { nonce: nonce.into(), cases: 1, timing: None }),
        ]
    }

    #[test]
    fn a_complete_file_is_accepted() {
        let o = read_records(&full("n").join("\r\n"), "n", &["s@bare".into()]).unwrap();
        assert_eq!(o.cases.len(), 1);
    }

    #[test]
    fn the_guest_timing_rides_along_with_the_final_record() {
        let mut lines = full("n");
        let timing = lockgate_protocol::GuestTiming { agent_start: 1.5, preflight_end: 1.6, cases: vec![], done: 2.0 };
        lines[3] = rec(&Record::Done { nonce: "n".into(), cases: 1, timing: Some(timing.clone()) });
        let o = read_records(&lines.join("\n"), "n", &["s@bare".into()]).unwrap();
        assert_eq!(o.timing, Some(timing));
        // Timing is optional: a final record without it is still complete.
        assert_eq!(read_records(&full("n").join("\n"), "n", &["s@bare".into()]).unwrap().timing, None);
    }

    #[test]
    fn anything_incomplete_or_foreign_is_an_error() {
        let planned = vec!["s@bare".to_string()];
        let lines = full("n");
        let err = |text: &str, nonce: &str| read_records(text, nonce, &planned).unwrap_err();
        let no_done = lines[..3].join("\n");
        assert_eq!(err(&no_done, "n"), RecordError::NoFinalRecord { reported: 1, planned: 1, missing: String::new() });
        assert!(err(&no_done, "n").to_string().contains("never sent its final record"));
        let garbled = format!("{}\n{{\"record\":\"case\",\"nonce\":", lines[..2].join("\n"));
        assert!(matches!(err(&garbled, "n"), RecordError::Garbled { line: 3, .. }));
        assert!(err(&garbled, "n").to_string().contains("garbled"));
        assert_eq!(err(&lines.join("\n"), "other"), RecordError::ForeignNonce { line: 1, nonce: "n".into() });
        assert!(err(&lines.join("\n"), "other").to_string().contains("stale or replayed"));
        assert_eq!(err("", "n"), RecordError::Silent);
        assert!(err("", "n").to_string().contains("no records at all"));
        let missing_case =
            [lines[0].clone(), lines[1].clone(), rec(&Record::Done { nonce: "n".into(), cases: 0, timing: None })]
                .join("\n");
        assert_eq!(err(&missing_case, "n"), RecordError::Miscounted { counted: 0, arrived: 0, planned: 1 });
        assert!(err(&missing_case, "n").to_string().contains("1 were planned"));
    }
}
