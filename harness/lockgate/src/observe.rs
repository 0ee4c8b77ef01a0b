//! Observe: reading the guest's records back, trusting nothing.
//!
//! A record file is accepted only when every line parses, every record carries this run's nonce,
//! the sequence is hello → preflight → one record per planned case → done, and `done` counts
//! the cases. Anything else is a harness error: lockgate never reports a pass it did not observe.

use lockgate_protocol::{CaseObservation, GuestTiming, Preflight, Record, VERSION};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Observations {
    pub preflight: Preflight,
    pub cases: BTreeMap<String, CaseObservation>,
    /// Where the guest's time went (for `cargo xtask bench`; never judged).
    pub timing: Option<GuestTiming>,
}

/// Parse the record port's content. `planned` lists the case ids the plan asked for.
pub fn read_records(text: &str, nonce: &str, planned: &[String]) -> Result<Observations, String> {
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
        let record: Record = serde_json::from_str(line).map_err(|e| {
            let shown: String = line.chars().take(120).collect();
            format!("record line {n} is garbled ({e}): `{shown}`")
        })?;
        if record.nonce() != nonce {
            return Err(format!(
                "record line {n} carries nonce `{}`, not this run's: a stale or replayed record",
                record.nonce()
            ));
        }
        if done.is_some() {
            return Err(format!("record line {n} comes after the final record"));
        }
        match record {
            Record::Hello { version, .. } => {
                if version != VERSION {
                    return Err(format!(
                        "the guest speaks protocol {version}, the host {VERSION}: rebuild the guest image"
                    ));
                }
                hello = true;
            }
            Record::Preflight { preflight: p, .. } => preflight = Some(p),
            Record::Case { case, .. } => {
                if !planned.contains(&case.id) {
                    return Err(format!("record line {n} reports case `{}`, which the plan does not contain", case.id));
                }
                if cases.insert(case.id.clone(), case).is_some() {
                    return Err(format!("record line {n} reports a case twice"));
                }
            }
            Record::Fault { message, .. } => return Err(format!("the guest agent failed: {message}")),
            Record::Done { cases: count, timing: t, .. } => {
                done = Some(count);
                timing = t;
            }
        }
    }
    if !hello {
        return Err(
            "the guest sent no records at all (its agent never started, or the record port stayed silent)".into()
        );
    }
    let preflight = preflight.ok_or("the guest sent no preflight record")?;
    let Some(count) = done else {
        let missing: Vec<&String> = planned.iter().filter(|id| !cases.contains_key(*id)).collect();
        return Err(format!(
            "the guest never sent its final record ({} of {} cases reported; missing: {})",
            cases.len(),
            planned.len(),
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
    };
    if count != cases.len() || count != planned.len() {
        return Err(format!(
            "the final record counts {count} cases, {} arrived, {} were planned",
            cases.len(),
            planned.len()
        ));
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
                    landlock: AbiProbe::Abi(4),
                    seccomp: None,
                    cmdline: String::new(),
                    seccomp_filter: None,
                    config: None,
                },
            }),
            rec(&Record::Case {
                nonce: nonce.into(),
                case: CaseObservation {
                    id: "s@bare".into(),
                    landlock: AbiProbe::Abi(4),
                    environment_error: None,
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
        let no_done = lines[..3].join("\n");
        assert!(read_records(&no_done, "n", &planned).unwrap_err().contains("never sent its final record"));
        let garbled = format!("{}\n{{\"record\":\"case\",\"nonce\":", lines[..2].join("\n"));
        assert!(read_records(&garbled, "n", &planned).unwrap_err().contains("garbled"));
        assert!(read_records(&lines.join("\n"), "other", &planned).unwrap_err().contains("stale or replayed"));
        assert!(read_records("", "n", &planned).unwrap_err().contains("no records at all"));
        let missing_case =
            [lines[0].clone(), lines[1].clone(), rec(&Record::Done { nonce: "n".into(), cases: 0, timing: None })]
                .join("\n");
        assert!(read_records(&missing_case, "n", &planned).unwrap_err().contains("1 were planned"));
    }
}
