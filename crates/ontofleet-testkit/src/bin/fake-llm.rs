//! `fake-llm`: the OpenAI-compatible fake server of `ontofleet_testkit::fake_llm` as a process
//! (`make fake-llm`, `make demo DEMO_CLASSIFIER=openai`, e2e tests). Prints
//! `listening on http://ADDR/v1` once ready; `GET /__stats` gives its counters.
//!
//! Flags: `--addr ADDR` (default 127.0.0.1:8089), `--latency-ms N`, `--script f1,f2,…`,
//! `--rate FAULT=P` (repeatable), `--seed N`, `--retry-after SECS` (default 3),
//! `--api-key KEY`, `--refuse-json-schema`, `--table FILE` (lines `title<TAB>type key`: those
//! titles are answered from the table instead of the rules classifier). Faults: ok, 401, 429, 500, 503 (any status),
//! quota, reset, truncated, invalid_json, missing, unknown_id, bad_key, format, context,
//! error200, length, slow:MS.

use std::io::Write;
use std::time::Duration;

use ontofleet_testkit::fake_llm::{FakeConfig, FakeLlm, Fault};

fn parse() -> Result<(String, FakeConfig), String> {
    let mut addr = "127.0.0.1:8089".to_owned();
    let mut config = FakeConfig {
        retry_after_secs: 3,
        ..FakeConfig::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value()?,
            "--latency-ms" => {
                config.latency =
                    Duration::from_millis(value()?.parse().map_err(|_| "bad --latency-ms")?)
            }
            "--script" => {
                for f in value()?.split(',').filter(|f| !f.is_empty()) {
                    config.script.push(f.parse::<Fault>()?);
                }
            }
            "--rate" => {
                let v = value()?;
                let (f, p) = v.split_once('=').ok_or("--rate takes FAULT=P")?;
                config
                    .rates
                    .push((f.parse()?, p.parse().map_err(|_| "bad --rate probability")?));
            }
            "--seed" => config.seed = value()?.parse().map_err(|_| "bad --seed")?,
            "--retry-after" => {
                config.retry_after_secs = value()?.parse().map_err(|_| "bad --retry-after")?
            }
            "--api-key" => config.api_key = Some(value()?),
            "--refuse-json-schema" => config.refuse_json_schema = true,
            "--table" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read --table {path}: {e}"))?;
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let (title, key) = line
                        .split_once('\t')
                        .ok_or_else(|| format!("--table {path}: `{line}` is not title<TAB>key"))?;
                    config.table.insert(title.to_owned(), key.trim().to_owned());
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((addr, config))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let (addr, config) = match parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fake-llm: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let fake = match FakeLlm::start(&addr, config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake-llm: cannot listen on {addr}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    println!("listening on {}", fake.base_url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
