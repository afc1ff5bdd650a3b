//! `dancuctl whoami`: the identity the cluster reads from this client's certificate, and what its role allows.

use super::{to_json, Failure, GlobalArgs, OutputFormat};

/// `dancuctl whoami`.
pub(crate) async fn run(global: &GlobalArgs) -> Result<String, Failure> {
    let client = global.connect().await?;
    let who = client.who_am_i().await?;
    let json = serde_json::json!({
        "identity": who.identity,
        "role": who.role,
        "operations": who.operations,
        "hidden_fields": who.hidden_fields,
        "provinces": who.provinces,
        "purposes": who.purposes,
        "requests_per_s": who.requests_per_s,
        "burst": who.burst,
    });
    match global.output {
        OutputFormat::Json => to_json(&json),
        OutputFormat::Table => {
            let list =
                |items: &[String], empty: &str| if items.is_empty() { empty.to_string() } else { items.join(", ") };
            let quota = if who.requests_per_s == 0 {
                "none".to_string()
            } else {
                format!("{} requests/s, burst {}", who.requests_per_s, who.burst)
            };
            Ok(format!(
                "identity:      {}\nrole:          {}\noperations:    {}\nhidden fields: {}\nprovinces:     {}\npurposes:      {}\nquota:         {}\n",
                who.identity,
                who.role,
                list(&who.operations, "none"),
                list(&who.hidden_fields, "none"),
                list(&who.provinces, "every province"),
                list(&who.purposes, "none"),
                quota
            ))
        }
    }
}
