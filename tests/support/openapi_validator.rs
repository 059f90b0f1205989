//! Checks an OpenAPI document with an independent implementation: Python's
//! `openapi-spec-validator` (the OpenAPI 3.0 / 3.1 schemas). It does not check
//! that a security requirement names a declared scheme:
//! [`assert_requirements_declared`] does.
//!
//! The Python comes from `$TJA_PYTHON`, else the virtualenv `.ci/run` makes
//! (`$TMPDIR/tower-jwt-auth-ci/py`), else `python3`. Where none imports the
//! package the tests say so and pass, except in CI (`CI` set, see `ci.rs`).
//! The including module provides `in_ci` (from `ci.rs`, which a test binary
//! loads once).

#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::in_ci;

const MODULE: &str = "openapi_spec_validator";

/// Validates the document read from stdin; prints why not and exits 1.
const SCRIPT: &str = r#"
import json, sys
from openapi_spec_validator import validate
try:
    validate(json.load(sys.stdin))
except Exception as error:
    print(f"{type(error).__name__}: {error}")
    sys.exit(1)
"#;

/// A Python that imports `openapi_spec_validator`; `None` (skip) outside CI
/// when there is none, a failure in CI.
pub fn python() -> Option<PathBuf> {
    let candidates = match std::env::var_os("TJA_PYTHON") {
        Some(path) => vec![PathBuf::from(path)],
        None => vec![
            std::env::temp_dir().join("tower-jwt-auth-ci/py/bin/python"),
            PathBuf::from("python3"),
        ],
    };
    for candidate in candidates {
        let ok = Command::new(&candidate)
            .args(["-c", &format!("import {MODULE}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(candidate);
        }
    }
    assert!(
        !in_ci(),
        "CI is set and no Python imports {MODULE}: .ci/run installs it"
    );
    eprintln!("SKIPPED: no Python with {MODULE} (see .ci/run for how CI installs it)");
    None
}

/// `Ok` when the validator accepts `document`, else what it said. `None`:
/// skipped (no validator, outside CI).
pub fn validate(document: &Value) -> Option<Result<(), String>> {
    let python = python()?;
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(document.to_string().as_bytes())
        .expect("document written");
    let output = child.wait_with_output().expect("python runs");
    Some(if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    })
}

/// Panics unless the validator accepts `document` (skipped: returns false).
pub fn assert_valid(document: &Value) -> bool {
    match validate(document) {
        None => false,
        Some(Ok(())) => true,
        Some(Err(why)) => {
            panic!("openapi-spec-validator refused the document: {why}\n{document:#}")
        }
    }
}

/// Every scheme named by a security requirement (top level or of an
/// operation) is declared in `components.securitySchemes`: the validator
/// does not check it, and a requirement naming no scheme is meaningless.
pub fn assert_requirements_declared(document: &Value) {
    let declared = &document["components"]["securitySchemes"];
    let mut requirements: Vec<&Value> = document["security"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for item in document["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            requirements.extend(operation["security"].as_array().into_iter().flatten());
        }
    }
    for requirement in requirements {
        for name in requirement
            .as_object()
            .expect("a requirement object")
            .keys()
        {
            assert!(
                declared.get(name).is_some(),
                "requirement names `{name}`, not declared in {declared}"
            );
        }
    }
}
