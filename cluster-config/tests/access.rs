//! Access control: `[tls]`, `[[roles]]` and `[[callers]]`, each rule checked for the exact path and message it
//! reports, and the typed API the node uses to decide a request.

use dancu_cluster_config::{
    CallerConfig, ClusterConfig, ConfigError, Operation, RoleConfig, TlsMode, UnknownOperation, ANY_PURPOSE,
    CITIZEN_FIELDS,
};
use proptest::prelude::*;

/// Three nodes, mutual TLS, one role and one caller.
const BASE: &str = r#"
[[nodes]]
id = 1
addr = "127.0.0.1:7201"
dc = "hq"

[[nodes]]
id = 2
addr = "127.0.0.1:7202"
dc = "hq"

[[nodes]]
id = 3
addr = "127.0.0.1:7203"
dc = "hq"

[[datacenters]]
name = "hq"
kind = "central"

[tls]
mode = "mutual"

[[roles]]
name = "bank-kyc"
operations = ["verify"]
purposes = ["kyc"]
requests_per_s = 200
burst = 400

[[callers]]
name = "bank"
role = "bank-kyc"
"#;

/// What an invalid role or caller name is told.
const NAME_RULE: &str = "use lowercase letters, digits and '-', not starting with '-'";

const OPERATION_NAMES: &str =
    "get, batch-get, verify, search, household, legacy, scan, put, import, events, admin, audit";

fn base() -> ClusterConfig {
    ClusterConfig::from_toml_str(BASE).expect("BASE parses")
}

/// Applies `edit` to the base cluster, validates it and compares every reported error, in order, with `expected`.
fn check(edit: impl FnOnce(&mut ClusterConfig), expected: &[&str]) {
    let mut config = base();
    edit(&mut config);
    let actual: Vec<String> = match config.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(actual, expected);
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

/// A role with no hidden fields, every province and no quota.
fn role(name: &str, operations: &[&str], purposes: &[&str]) -> RoleConfig {
    RoleConfig {
        name: name.to_string(),
        operations: strings(operations),
        hidden_fields: Vec::new(),
        provinces: Vec::new(),
        purposes: strings(purposes),
        requests_per_s: None,
        burst: None,
    }
}

fn caller(name: &str, role: &str) -> CallerConfig {
    CallerConfig { name: name.to_string(), role: role.to_string() }
}

#[test]
fn base_is_valid() {
    check(|_| {}, &[]);
}

#[test]
fn without_tls_table_the_mode_is_insecure_plaintext() {
    let text = BASE.split("[tls]").next().expect("text before [tls]");
    let config = ClusterConfig::from_toml_str(text).expect("parses");
    assert_eq!(config.tls.mode, TlsMode::InsecurePlaintext);
    assert!(!config.requires_tls());
    assert!(config.roles.is_empty() && config.callers.is_empty());
    assert_eq!(config.validate(), Ok(()));
    assert!(base().requires_tls());
}

#[test]
fn mutual_tls_without_callers_is_allowed() {
    check(
        |c| {
            c.callers.clear();
            c.roles.clear();
        },
        &[],
    );
}

#[test]
fn roles_and_callers_need_mutual_tls() {
    let message = r#"tls.mode: callers are identified by their certificates: set tls.mode = "mutual""#;
    check(|c| c.tls.mode = TlsMode::InsecurePlaintext, &[message]);
    check(
        |c| {
            c.tls.mode = TlsMode::InsecurePlaintext;
            c.callers.clear();
        },
        &[message],
    );
    check(
        |c| {
            c.tls.mode = TlsMode::InsecurePlaintext;
            c.roles.clear();
        },
        &[message, r#"callers[0].role: unknown role "bank-kyc""#],
    );
}

#[test]
fn a_role_no_caller_uses_is_allowed() {
    check(|c| c.roles.push(role("auditor", &["audit"], &["audit"])), &[]);
}

#[test]
fn role_names_are_plain_and_unique() {
    check(
        |c| c.roles[0].name.clear(),
        &["roles[0].name: must not be empty", r#"callers[0].role: unknown role "bank-kyc""#],
    );
    check(|c| c.roles.push(role("bank-kyc", &["get"], &["x"])), &[r#"roles[1].name: duplicate role name "bank-kyc""#]);
    for bad in ["Bank", "-bank", "bank_kyc", "bank kyc", "ngân-hàng"] {
        let expected = format!("roles[1].name: invalid role name {bad:?}: {NAME_RULE}");
        check(|c| c.roles.push(role(bad, &["get"], &["x"])), &[expected.as_str()]);
    }
    check(|c| c.roles.push(role("0-a-", &["get"], &["x"])), &[]);
}

#[test]
fn role_and_caller_names_are_at_most_64_bytes() {
    let longest = "a".repeat(64);
    check(
        |c| {
            c.roles.push(role(&longest, &["get"], &["x"]));
            c.callers.push(caller(&longest, &longest));
        },
        &[],
    );
    let too_long = "a".repeat(65);
    check(
        |c| {
            c.roles.push(role(&too_long, &["get"], &["x"]));
            c.callers.push(caller(&too_long, "bank-kyc"));
        },
        &["roles[1].name: longer than 64 bytes (65)", "callers[1].name: longer than 64 bytes (65)"],
    );
}

#[test]
fn a_role_grants_at_least_one_operation() {
    check(|c| c.roles[0].operations.clear(), &["roles[0].operations: at least one operation is required"]);
}

#[test]
fn operations_are_known() {
    let expected = format!(r#"roles[1].operations[2]: unknown operation "verfy"; one of {OPERATION_NAMES}"#);
    check(|c| c.roles.push(role("clerk", &["get", "put", "verfy"], &["x"])), &[expected.as_str()]);
    let expected = format!(r#"roles[0].operations[1]: unknown operation "Get"; one of {OPERATION_NAMES}"#);
    check(|c| c.roles[0].operations.push("Get".into()), &[expected.as_str()]);
}

#[test]
fn operations_are_listed_once() {
    check(
        |c| c.roles[0].operations.extend(strings(&["get", "verify"])),
        &[r#"roles[0].operations[2]: duplicate operation "verify""#],
    );
}

#[test]
fn hidden_fields_are_citizen_fields_other_than_id() {
    check(|c| c.roles[0].hidden_fields = strings(&["ethnicity", "religion", "blood_type"]), &[]);
    check(
        |c| c.roles[0].hidden_fields = strings(&["ethnicity", "id", "ethnic", "ethnicity"]),
        &[
            r#"roles[0].hidden_fields[1]: "id" cannot be hidden: every reply must say which citizen it is about"#,
            r#"roles[0].hidden_fields[2]: unknown field "ethnic": not a top-level field of dancu.v1.Citizen"#,
            r#"roles[0].hidden_fields[3]: duplicate field "ethnicity""#,
        ],
    );
    // Only top-level fields: a part of a nested message cannot be hidden on its own.
    check(
        |c| c.roles[0].hidden_fields = strings(&["father.id"]),
        &[r#"roles[0].hidden_fields[0]: unknown field "father.id": not a top-level field of dancu.v1.Citizen"#],
    );
}

#[test]
fn role_provinces_exist_and_are_listed_once() {
    check(|c| c.roles[0].provinces = strings(&["001", "079"]), &[]);
    check(
        |c| c.roles[0].provinces = strings(&["001", "003", "1", "001"]),
        &[
            r#"roles[0].provinces[1]: unknown province code "003""#,
            r#"roles[0].provinces[2]: unknown province code "1""#,
            "roles[0].provinces[3]: duplicate province 001",
        ],
    );
}

#[test]
fn a_role_names_at_least_one_purpose() {
    check(
        |c| c.roles[0].purposes.clear(),
        &[r#"roles[0].purposes: at least one purpose is required ("*" allows any)"#],
    );
}

#[test]
fn purposes_are_printable_bounded_and_unique() {
    check(|c| c.roles[0].purposes = strings(&["kyc", "điều tra", &"p".repeat(64)]), &[]);
    let too_long = "p".repeat(65);
    check(
        |c| c.roles[0].purposes = strings(&["", "  ", &too_long, "k\tyc", " kyc", "kyc", "kyc"]),
        &[
            "roles[0].purposes[0]: must not be empty or blank",
            "roles[0].purposes[1]: must not be empty or blank",
            "roles[0].purposes[2]: longer than 64 bytes (65)",
            r#"roles[0].purposes[3]: purpose "k\tyc" contains a control character"#,
            r#"roles[0].purposes[4]: purpose " kyc" starts or ends with whitespace"#,
            r#"roles[0].purposes[6]: duplicate purpose "kyc""#,
        ],
    );
}

#[test]
fn any_purpose_stands_alone() {
    check(|c| c.roles[0].purposes = strings(&["*"]), &[]);
    check(
        |c| c.roles[0].purposes = strings(&["kyc", "*"]),
        &[r#"roles[0].purposes[1]: "*" (any purpose) must be the only purpose"#],
    );
}

#[test]
fn quotas_are_positive() {
    check(
        |c| {
            c.roles[0].requests_per_s = Some(0);
            c.roles[0].burst = Some(0);
        },
        &[
            "roles[0].requests_per_s: must be greater than 0 (leave it out for no quota)",
            "roles[0].burst: must be greater than 0",
        ],
    );
    check(|c| c.roles[0].burst = None, &[]);
}

#[test]
fn burst_needs_a_rate() {
    check(|c| c.roles[0].requests_per_s = None, &["roles[0].burst: only allowed with requests_per_s"]);
    check(
        |c| {
            c.roles[0].requests_per_s = None;
            c.roles[0].burst = None;
        },
        &[],
    );
}

#[test]
fn caller_names_are_plain_and_unique() {
    check(|c| c.callers.push(caller("bank", "bank-kyc")), &[r#"callers[1].name: duplicate caller name "bank""#]);
    check(
        |c| c.callers.push(caller("CN=bank", "bank-kyc")),
        &[&format!(r#"callers[1].name: invalid caller name "CN=bank": {NAME_RULE}"#)],
    );
    check(|c| c.callers[0].name.clear(), &["callers[0].name: must not be empty"]);
    // A caller may share its role's name: the two are looked up in different lists.
    check(|c| c.callers.push(caller("bank-kyc", "bank-kyc")), &[]);
}

#[test]
fn a_caller_names_an_existing_role() {
    check(|c| c.callers.push(caller("clinic", "health")), &[r#"callers[1].role: unknown role "health""#]);
}

#[test]
fn every_access_problem_is_reported_at_once() {
    check(
        |c| {
            c.tls.mode = TlsMode::InsecurePlaintext;
            c.roles.push(role("Health", &["gets"], &[]));
            c.callers.push(caller("clinic", "health"));
        },
        &[
            r#"tls.mode: callers are identified by their certificates: set tls.mode = "mutual""#,
            &format!(r#"roles[1].name: invalid role name "Health": {NAME_RULE}"#),
            &format!(r#"roles[1].operations[0]: unknown operation "gets"; one of {OPERATION_NAMES}"#),
            r#"roles[1].purposes: at least one purpose is required ("*" allows any)"#,
            r#"callers[1].role: unknown role "health""#,
        ],
    );
}

#[test]
fn access_sections_round_trip_through_toml() {
    let mut config = base();
    let mut health = role("health", &["get", "batch-get"], &["treatment"]);
    health.hidden_fields = strings(&["ethnicity", "religion"]);
    health.provinces = strings(&["001"]);
    health.requests_per_s = Some(500);
    config.roles.push(health);
    config.callers.push(caller("health-ministry", "health"));
    let text = config.to_toml_string();
    assert_eq!(ClusterConfig::from_toml_str(&text).expect("reparses"), config, "{text}");
    assert!(text.contains("[tls]\nmode = \"mutual\""), "{text}");

    // Empty lists and absent quotas are left out, and so is a plaintext [tls]: a plain cluster's TOML is unchanged.
    config.roles.truncate(1);
    config.roles[0].requests_per_s = None;
    config.roles[0].burst = None;
    let text = config.to_toml_string();
    assert!(!text.contains("hidden_fields") && !text.contains("provinces") && !text.contains("burst"), "{text}");
    config.roles.clear();
    config.callers.clear();
    config.tls.mode = TlsMode::InsecurePlaintext;
    let text = config.to_toml_string();
    assert!(!text.contains("roles") && !text.contains("callers"), "{text}");
    assert!(!text.contains("[tls]"), "{text}");
    assert_eq!(ClusterConfig::from_toml_str(&text).expect("reparses"), config);
}

/// Parses `text` and expects a parse error whose message contains `fragment`.
fn check_parse_error(text: &str, fragment: &str) {
    match ClusterConfig::from_toml_str(text) {
        Err(ConfigError::Parse { message, .. }) => assert!(message.contains(fragment), "{fragment:?} not in {message}"),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn unknown_keys_and_modes_are_parse_errors() {
    check_parse_error(&BASE.replace("mode = \"mutual\"", "mode = \"tls\""), "unknown variant `tls`");
    check_parse_error(&BASE.replace("mode = \"mutual\"", "mode = \"Mutual\""), "unknown variant `Mutual`");
    check_parse_error(&BASE.replace("mode = \"mutual\"", "mod = \"mutual\""), "unknown field `mod`");
    check_parse_error(&BASE.replace("burst = 400", "bursts = 400"), "unknown field `bursts`");
    check_parse_error(&BASE.replace("role = \"bank-kyc\"", "roles = \"bank-kyc\""), "unknown field `roles`");
    check_parse_error(&BASE.replace("requests_per_s = 200", "requests_per_s = -1"), "requests_per_s");
    check_parse_error(&BASE.replace("purposes = [\"kyc\"]\n", ""), "missing field `purposes`");
    check_parse_error(&BASE.replace("operations = [\"verify\"]\n", ""), "missing field `operations`");
}

#[test]
fn lookups_find_callers_and_their_roles() {
    let config = base();
    assert_eq!(config.caller("bank"), Some(&caller("bank", "bank-kyc")));
    assert_eq!(config.role("bank-kyc").map(|r| r.purposes.clone()), Some(strings(&["kyc"])));
    assert_eq!(config.role_of_caller("bank").map(|r| r.name.as_str()), Some("bank-kyc"));
    assert_eq!(config.caller("bank-kyc"), None);
    assert_eq!(config.role("bank"), None);
    assert_eq!(config.role_of_caller("mallory"), None);
}

#[test]
fn a_role_allows_its_operations_purposes_and_provinces() {
    let mut police = role("hanoi-police", &["get", "search", "gets"], &["investigation"]);
    police.provinces = strings(&["001"]);
    // An unknown name (which validation reports) grants nothing.
    assert_eq!(police.operations(), [Operation::Get, Operation::Search]);
    assert!(police.allows(Operation::Get) && police.allows(Operation::Search));
    assert!(!police.allows(Operation::BatchGet) && !police.allows(Operation::Admin));
    assert!(police.allows_purpose("investigation"));
    assert!(
        !police.allows_purpose("Investigation")
            && !police.allows_purpose("investigation ")
            && !police.allows_purpose("")
    );
    assert!(police.in_scope("001") && !police.in_scope("079") && !police.in_scope("1"));

    let operator = role("operator", &["admin"], &[ANY_PURPOSE]);
    assert!(operator.allows_purpose("anything") && operator.allows_purpose("*"));
    // Even "any purpose" needs a purpose.
    assert!(!operator.allows_purpose("") && !operator.allows_purpose("   "));
    assert!(operator.in_scope("001") && operator.in_scope("096"));
}

#[test]
fn burst_defaults_to_the_rate() {
    let mut quota = role("q", &["get"], &["x"]);
    assert_eq!(quota.burst(), None);
    quota.requests_per_s = Some(50);
    assert_eq!(quota.burst(), Some(50));
    quota.burst = Some(80);
    assert_eq!(quota.burst(), Some(80));
}

#[test]
fn operations_parse_and_display_their_names() {
    let names: Vec<String> = Operation::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(names.join(", "), OPERATION_NAMES);
    assert_eq!("batch-get".parse::<Operation>(), Ok(Operation::BatchGet));
    assert_eq!(Operation::Verify.to_string(), "verify");
    let unknown = "verfy".parse::<Operation>().expect_err("unknown");
    assert_eq!(unknown, UnknownOperation { name: "verfy".to_string() });
    assert_eq!(unknown.to_string(), format!(r#"unknown operation "verfy"; one of {OPERATION_NAMES}"#));
}

/// Serializes `op` as a TOML value and parses it back.
fn toml_round_trip(op: Operation) -> (toml::Value, Result<Operation, toml::de::Error>) {
    let value = toml::Value::try_from(op).expect("an operation serializes");
    let back = value.clone().try_into::<Operation>();
    (value, back)
}

#[test]
fn every_operation_round_trips() {
    for (idx, op) in Operation::ALL.into_iter().enumerate() {
        assert_eq!(op.as_str().parse::<Operation>(), Ok(op));
        assert_eq!(op.to_string().parse::<Operation>(), Ok(op));
        let (value, back) = toml_round_trip(op);
        assert_eq!(value, toml::Value::String(op.as_str().to_string()));
        assert_eq!(back.ok(), Some(op));
        assert!(!Operation::ALL[..idx].contains(&op), "{op} listed twice");
    }
    let bad = toml::Value::String("verfy".to_string()).try_into::<Operation>().expect_err("unknown");
    assert!(bad.to_string().contains(r#"unknown operation "verfy""#), "{bad}");
}

proptest! {
    /// A name parses exactly when it is one of the listed names, and then displays as itself.
    #[test]
    fn only_listed_names_parse(name in "[a-z-]{0,12}|get|batch-get|audit|Get|verify ") {
        let listed = Operation::ALL.iter().any(|op| op.as_str() == name);
        match name.parse::<Operation>() {
            Ok(op) => prop_assert!(listed && op.to_string() == name),
            Err(unknown) => prop_assert!(!listed && unknown.name == name),
        }
    }
}

#[test]
fn citizen_fields_are_unique_and_include_id() {
    assert_eq!(CITIZEN_FIELDS.len(), 30);
    assert_eq!(CITIZEN_FIELDS[0], "id");
    for (idx, field) in CITIZEN_FIELDS.iter().enumerate() {
        assert!(!CITIZEN_FIELDS[..idx].contains(field), "{field} listed twice");
    }
}

/// The node's tests check [`CITIZEN_FIELDS`] against the compiled descriptor; this reads the `.proto` itself, so the
/// list cannot drift even where the node is not built. Relative to the package root, where cargo runs tests.
#[test]
fn citizen_fields_match_the_proto_message() {
    let proto = std::fs::read_to_string("../proto/dancu/v1/citizen.proto").expect("citizen.proto");
    let body = proto.split("message Citizen {").nth(1).and_then(|rest| rest.split("\n}").next()).expect("message");
    let fields: Vec<&str> = body
        .lines()
        .map(|line| line.split("//").next().unwrap_or("").trim())
        .filter(|line| line.ends_with(';') && line.contains('='))
        .filter_map(|line| line.split('=').next()?.split_whitespace().last())
        .collect();
    assert_eq!(fields, CITIZEN_FIELDS);
}
