//! Rules on `[tls]`, `[[roles]]` and `[[callers]]`: who may do what, and only where identities can be trusted.

use super::Report;
use crate::access::CITIZEN_ID_FIELD;
use crate::limits::{ACCESS_NAME_BYTES_MAX, ROLE_PURPOSE_BYTES_MAX};
use crate::{provinces, ClusterConfig, Operation, RoleConfig, TlsMode, ANY_PURPOSE, CITIZEN_FIELDS};

pub(super) fn check(config: &ClusterConfig, report: &mut Report) {
    let has_access_rules = !config.roles.is_empty() || !config.callers.is_empty();
    if has_access_rules && config.tls.mode == TlsMode::InsecurePlaintext {
        // Without certificates a caller is whoever it claims to be, so its role would protect nothing.
        report.add("tls.mode", r#"callers are identified by their certificates: set tls.mode = "mutual""#);
    }
    for (role_idx, role) in config.roles.iter().enumerate() {
        let path = format!("roles[{role_idx}]");
        let earlier_names = config.roles[..role_idx].iter().map(|earlier| earlier.name.as_str());
        check_name(&format!("{path}.name"), "role", &role.name, earlier_names, report);
        check_operations(&path, role, report);
        check_hidden_fields(&path, role, report);
        check_provinces(&path, role, report);
        check_purposes(&path, role, report);
        check_quota(&path, role, report);
    }
    for (caller_idx, caller) in config.callers.iter().enumerate() {
        let path = format!("callers[{caller_idx}]");
        let earlier_names = config.callers[..caller_idx].iter().map(|earlier| earlier.name.as_str());
        check_name(&format!("{path}.name"), "caller", &caller.name, earlier_names, report);
        if config.role(&caller.role).is_none() {
            report.add(format!("{path}.role"), format!("unknown role {:?}", caller.role));
        }
    }
}

/// Role and caller names are unique and plain enough to appear unquoted in a certificate, a log line or a metric.
fn check_name<'a>(
    path: &str,
    kind: &str,
    name: &str,
    mut earlier_names: impl Iterator<Item = &'a str>,
    report: &mut Report,
) {
    if name.is_empty() {
        report.add(path, "must not be empty");
    } else if name.len() > ACCESS_NAME_BYTES_MAX {
        report.add(path, format!("longer than {ACCESS_NAME_BYTES_MAX} bytes ({})", name.len()));
    } else if !is_access_name(name) {
        let message =
            format!("invalid {kind} name {name:?}: use lowercase letters, digits and '-', not starting with '-'");
        report.add(path, message);
    } else if earlier_names.any(|earlier| earlier == name) {
        report.add(path, format!("duplicate {kind} name {name:?}"));
    }
}

/// `[a-z0-9][a-z0-9-]*`.
fn is_access_name(name: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    !name.starts_with('-') && name.bytes().all(allowed)
}

/// Whether `items[idx]` already appears before `idx`.
fn is_repeat(items: &[String], idx: usize) -> bool {
    items[..idx].contains(&items[idx])
}

fn check_operations(path: &str, role: &RoleConfig, report: &mut Report) {
    if role.operations.is_empty() {
        report.add(format!("{path}.operations"), "at least one operation is required");
    }
    for (op_idx, name) in role.operations.iter().enumerate() {
        let op_path = format!("{path}.operations[{op_idx}]");
        if let Err(unknown) = name.parse::<Operation>() {
            report.add(op_path, unknown.to_string());
        } else if is_repeat(&role.operations, op_idx) {
            report.add(op_path, format!("duplicate operation {name:?}"));
        }
    }
}

fn check_hidden_fields(path: &str, role: &RoleConfig, report: &mut Report) {
    for (field_idx, field) in role.hidden_fields.iter().enumerate() {
        let field_path = format!("{path}.hidden_fields[{field_idx}]");
        if field == CITIZEN_ID_FIELD {
            report.add(field_path, r#""id" cannot be hidden: every reply must say which citizen it is about"#);
        } else if !CITIZEN_FIELDS.contains(&field.as_str()) {
            report.add(field_path, format!("unknown field {field:?}: not a top-level field of dancu.v1.Citizen"));
        } else if is_repeat(&role.hidden_fields, field_idx) {
            report.add(field_path, format!("duplicate field {field:?}"));
        }
    }
}

fn check_provinces(path: &str, role: &RoleConfig, report: &mut Report) {
    for (code_idx, code) in role.provinces.iter().enumerate() {
        let code_path = format!("{path}.provinces[{code_idx}]");
        if provinces::province(code).is_none() {
            report.add(code_path, format!("unknown province code {code:?}"));
        } else if is_repeat(&role.provinces, code_idx) {
            report.add(code_path, format!("duplicate province {code}"));
        }
    }
}

fn check_purposes(path: &str, role: &RoleConfig, report: &mut Report) {
    if role.purposes.is_empty() {
        report.add(format!("{path}.purposes"), r#"at least one purpose is required ("*" allows any)"#);
    }
    for (purpose_idx, purpose) in role.purposes.iter().enumerate() {
        let purpose_path = format!("{path}.purposes[{purpose_idx}]");
        if let Some(problem) = purpose_problem(purpose) {
            report.add(purpose_path, problem);
        } else if purpose == ANY_PURPOSE && role.purposes.len() > 1 {
            // "*" beside other purposes would make them meaningless; an operator who wrote both meant one of them.
            report.add(purpose_path, r#""*" (any purpose) must be the only purpose"#);
        } else if is_repeat(&role.purposes, purpose_idx) {
            report.add(purpose_path, format!("duplicate purpose {purpose:?}"));
        }
    }
}

/// Requests name their purpose exactly, so one that could not be typed or read back as written is a mistake.
fn purpose_problem(purpose: &str) -> Option<String> {
    if purpose.trim().is_empty() {
        Some("must not be empty or blank".to_string())
    } else if purpose.len() > ROLE_PURPOSE_BYTES_MAX {
        Some(format!("longer than {ROLE_PURPOSE_BYTES_MAX} bytes ({})", purpose.len()))
    } else if purpose.chars().any(char::is_control) {
        Some(format!("purpose {purpose:?} contains a control character"))
    } else if purpose.trim() != purpose {
        Some(format!("purpose {purpose:?} starts or ends with whitespace"))
    } else {
        None
    }
}

fn check_quota(path: &str, role: &RoleConfig, report: &mut Report) {
    if role.requests_per_s == Some(0) {
        report.add(format!("{path}.requests_per_s"), "must be greater than 0 (leave it out for no quota)");
    }
    match (role.requests_per_s, role.burst) {
        (None, Some(_)) => report.add(format!("{path}.burst"), "only allowed with requests_per_s"),
        (Some(_), Some(0)) => report.add(format!("{path}.burst"), "must be greater than 0"),
        _ => {}
    }
}
