//! The attendance inputs: a payroll month (`Month::parse`, the `month` of the attendance
//! routes), the forms of the example policy's templates (leave, missed-punch correction,
//! overtime, field-punch review, and the others) read with `Form::read`, and an employee's
//! records as they travel between server and phone (`EmployeeRecords`: punches, corrections,
//! leave days, approved overtime), run through the attendance engine for December 2026.
//! The first byte picks: below 128 a template (by its value), from 128 the records. Contract:
//! no panic; an accepted month is written back the same; an accepted form written out reads
//! back equal; any records give a month of day results or a typed error.
#![no_main]

use daka_core::approvals::Form;
use daka_core::attendance::{AttendanceEngine, EmployeeRecords, Month};
use daka_fuzz::{policy, trusted_now};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Some(month) = Month::parse(text) {
        assert_eq!(format!("{:04}-{:02}", month.year, month.month), text);
        assert!(month.first().is_some() && month.last().is_some());
    }
    if *pick >= 128 {
        let Ok(mut records) = serde_json::from_str::<EmployeeRecords>(text) else {
            return;
        };
        records.normalise();
        let december = Month {
            year: 2026,
            month: 12,
        };
        let now = trusted_now() + chrono::Duration::days(40);
        if let Ok((_, days)) =
            AttendanceEngine::new(policy()).month("E1001", december, &records, now)
        {
            assert_eq!(days.len(), 31, "December has 31 days");
        }
        return;
    }
    let templates = &policy().approvals.templates;
    let template = &templates[usize::from(*pick) % templates.len()];
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    match Form::read(template, &json) {
        Ok(form) => {
            let again = Form::read(template, &form.to_json())
                .unwrap_or_else(|e| panic!("the written form is refused: {e:?}"));
            assert_eq!(again, form);
        }
        Err(e) => assert!(!e.errors.is_empty()),
    }
});
