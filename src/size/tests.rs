use super::*;
use proptest::prelude::*;

fn bytes(s: &str) -> u64 {
    match parse(s) {
        Ok(Reading::Bytes(b)) => b,
        other => panic!("{s:?} parsed as {other:?}"),
    }
}

#[test]
fn parses_podman_and_docker_si_forms() {
    assert_eq!(bytes("0B"), 0);
    assert_eq!(bytes("205B"), 205);
    assert_eq!(bytes("3.37MB"), 3_370_000);
    assert_eq!(bytes("3.37 MB"), 3_370_000);
    assert_eq!(bytes("5.374MB"), 5_374_000);
    assert_eq!(bytes("12.3kB"), 12_300);
    assert_eq!(bytes("1.2GB"), 1_200_000_000);
    assert_eq!(bytes("26.87MB"), 26_870_000);
    assert_eq!(bytes("  3.37 MB \t"), 3_370_000);
    assert_eq!(bytes("3.37  MB"), 3_370_000);
}

#[test]
fn parses_exponent_forms_exactly() {
    assert_eq!(bytes("1e+03MB"), 1_000_000_000);
    assert_eq!(bytes("1e+03 kB"), 1_000_000);
    assert_eq!(bytes("1e+03kB"), 1_000_000);
    assert_eq!(bytes("1.5e+02B"), 150);
    assert_eq!(bytes("2E3B"), 2000);
    assert_eq!(bytes("1e-01kB"), 100);
    assert_eq!(bytes("1e-9999999999999999999999MB"), 0);
}

#[test]
fn parses_large_units_and_detects_overflow() {
    assert_eq!(bytes("1TB"), 1_000_000_000_000);
    assert_eq!(bytes("2.5PB"), 2_500_000_000_000_000);
    assert_eq!(bytes("18.4EB"), 18_400_000_000_000_000_000);
    assert_eq!(bytes("1EB"), 1_000_000_000_000_000_000);
    assert_eq!(bytes("18446744073709551615B"), u64::MAX);
    for s in [
        "18.5EB",
        "1ZB",
        "0.1YB",
        "18446744073709551616B",
        "1e+20B",
        "1e+9999999999999999999999B",
        "-1ZB",
    ] {
        assert!(
            matches!(parse(s), Err(SizeError::Overflow(_))),
            "{s:?} gave {:?}",
            parse(s)
        );
    }
    // Zero is zero in any unit, however large the exponent.
    assert_eq!(bytes("0e+99999YB"), 0);
}

#[test]
fn parses_binary_units() {
    assert_eq!(bytes("45KiB"), 45 * 1024);
    assert_eq!(bytes("2.5 GiB"), 2_684_354_560);
    assert_eq!(bytes("1MiB"), 1 << 20);
    assert_eq!(bytes("1.5Mi"), 1_572_864);
    assert_eq!(bytes("1kib"), 1024);
    assert_eq!(bytes("15EiB"), 15 << 60);
    assert_eq!(parse("16EiB"), Err(SizeError::Overflow("16EiB".into())));
}

#[test]
fn unit_case_follows_go_units() {
    assert_eq!(bytes("12.3KB"), 12_300);
    assert_eq!(bytes("12.3kb"), 12_300);
    assert_eq!(bytes("3mb"), 3_000_000);
    assert_eq!(bytes("7b"), 7);
    assert_eq!(bytes("7"), 7);
}

#[test]
fn rounds_fractional_bytes_to_nearest() {
    assert_eq!(bytes("1.4B"), 1);
    assert_eq!(bytes("1.5B"), 2);
    assert_eq!(bytes("0.4B"), 0);
    assert_eq!(bytes("1.0005kB"), 1001);
    assert_eq!(bytes("1.0004999kB"), 1000);
    assert_eq!(bytes("0.0000001KiB"), 0);
    assert_eq!(
        bytes("1.00000000000000000000000000000000000000000000001B"),
        1
    );
    assert_eq!(bytes("0.49999999999999999999999999999999999999999B"), 0);
}

#[test]
fn negatives_are_readings_not_numbers() {
    assert_eq!(parse("-2768B"), Ok(Reading::Negative(2768)));
    assert_eq!(parse("-1.399e+07B"), Ok(Reading::Negative(13_990_000)));
    assert_eq!(parse("-3.5 MB"), Ok(Reading::Negative(3_500_000)));
    assert_eq!(parse("-0B"), Ok(Reading::Bytes(0)));
    assert_eq!(
        parse_bytes("-2768B"),
        Err(SizeError::Invalid("-2768B".into()))
    );
    assert_eq!(Reading::Negative(5).bytes(), None);
}

#[test]
fn not_available() {
    assert_eq!(parse("N/A"), Ok(Reading::NotAvailable));
    assert_eq!(parse(" n/a "), Ok(Reading::NotAvailable));
    assert!(parse_bytes("N/A").is_err());
}

#[test]
fn garbage_is_a_typed_error() {
    for s in [
        "", " ", "B", "MB", "abc", "12K", "3M", "1.2.3MB", ".5MB", "5.MB", "+5MB", "--5B", "5 M B",
        "5XB", "5kBB", "1e+MB", "N/A B", "5 (3%)", "5B 6B", "0x10B", "١٢B", "5iB", "∞B", "NaNB",
    ] {
        assert!(
            matches!(parse(s), Err(SizeError::Invalid(_))),
            "{s:?} gave {:?}",
            parse(s)
        );
    }
}

#[test]
fn error_messages_quote_a_bounded_input() {
    let long = "x".repeat(10_000);
    let msg = parse(&long).unwrap_err().to_string();
    assert!(msg.len() < 100, "{msg}");
    assert!(msg.contains("xxx..."));
}

#[test]
fn annotated_forms() {
    assert_eq!(
        parse_annotated("12B (virtual 3.36MB)"),
        Ok(Annotated {
            size: Reading::Bytes(12),
            virtual_size: Some(Reading::Bytes(3_360_000)),
            percent: None
        })
    );
    assert_eq!(
        parse_annotated("5.24MB (virtual 3.36MB)")
            .unwrap()
            .virtual_size,
        Some(Reading::Bytes(3_360_000))
    );
    assert_eq!(
        parse_annotated("23.49MB (87%)"),
        Ok(Annotated {
            size: Reading::Bytes(23_490_000),
            virtual_size: None,
            percent: Some(87.0)
        })
    );
    assert_eq!(
        parse_annotated("0B (0%)"),
        Ok(Annotated {
            size: Reading::Bytes(0),
            virtual_size: None,
            percent: Some(0.0)
        })
    );
    assert_eq!(
        parse_annotated(" 3.37 MB "),
        Ok(Annotated {
            size: Reading::Bytes(3_370_000),
            virtual_size: None,
            percent: None
        })
    );
    assert_eq!(
        parse_annotated("-2768B (-5.5%)").unwrap(),
        Annotated {
            size: Reading::Negative(2768),
            virtual_size: None,
            percent: Some(-5.5)
        }
    );
    assert_eq!(
        parse_annotated("N/A (virtual N/A)").unwrap().virtual_size,
        Some(Reading::NotAvailable)
    );
    for s in [
        "12B (virtual 3.36MB",
        "12B (virtual3.36MB)",
        "12B ()",
        "12B (87)",
        "12B (inf%)",
        "12B (87%) x",
        "(87%)",
        "12B (virtual x)",
    ] {
        assert!(
            parse_annotated(s).is_err(),
            "{s:?} gave {:?}",
            parse_annotated(s)
        );
    }
}

#[test]
fn formats_like_podman_images() {
    let cases = [
        (0, "0 B"),
        (1, "1 B"),
        (205, "205 B"),
        (999, "999 B"),
        (1000, "1 kB"),
        (1005, "1 kB"), // 1.005 is 1.00499.. as f64, as in go-units
        (1015, "1.01 kB"),
        (12_300, "12.3 kB"),
        (3_370_000, "3.37 MB"),
        (3_365_000, "3.37 MB"),
        (26_870_000, "26.9 MB"),
        (100_000_000, "100 MB"),
        (999_499, "999 kB"),
        (999_500, "1 MB"), // go-units: "1e+03 kB"
        (999_999, "1 MB"),
        (1_000_000_000, "1 GB"),
        (999_999_999_999, "1 TB"),
        (1_500_000_000_000_000, "1.5 PB"),
        (u64::MAX, "18.4 EB"),
    ];
    for (n, want) in cases {
        assert_eq!(format(n), want, "format({n})");
    }
}

#[test]
fn display_units() {
    assert_eq!(display(3_370_000, Units::Si), "3.37 MB");
    assert_eq!(display(3_370_000, Units::Bytes), "3370000");
}

proptest! {
    #[test]
    fn format_round_trips_within_its_precision(n: u64) {
        let s = format(n);
        prop_assert!(!s.contains('e'), "{s}");
        let back = parse_bytes(&s).unwrap();
        if n < 1000 {
            prop_assert_eq!(back, n);
        } else {
            let err = (back as f64 - n as f64).abs() / n as f64;
            prop_assert!(err <= 0.005, "{n} -> {s} -> {back}: {err}");
        }
    }

    #[test]
    fn format_round_trips_near_unit_boundaries(k in 0u32..7, delta in -600i64..600) {
        let n = 1000u64.pow(k).saturating_add_signed(delta);
        let s = format(n);
        let back = parse_bytes(&s).unwrap();
        if n < 1000 {
            prop_assert_eq!(back, n);
        } else {
            let err = (back as f64 - n as f64).abs() / n as f64;
            prop_assert!(err <= 0.005, "{n} -> {s} -> {back}: {err}");
        }
    }

    #[test]
    fn integer_bytes_parse_exactly(n: u64) {
        prop_assert_eq!(parse(&format!("{n}B")), Ok(Reading::Bytes(n)));
        prop_assert_eq!(parse(&format!("{n} B")), Ok(Reading::Bytes(n)));
    }

    #[test]
    fn parse_never_panics(s in ".*") {
        let _ = parse(&s);
        let _ = parse_annotated(&s);
    }

    #[test]
    fn parse_never_panics_on_size_like_input(s in "[-+ ]?[0-9.eE+-]{0,30} ?[kKmMgGtTpPeEzZyYiIbB/Na()%]{0,4}") {
        let _ = parse(&s);
        let _ = parse_annotated(&s);
    }

    #[test]
    fn decimal_kb_is_exact(int in 0u64..1_000_000, frac in 0u32..1000) {
        let s = format!("{int}.{frac:03}kB");
        prop_assert_eq!(parse_bytes(&s), Ok(int * 1000 + u64::from(frac)));
    }
}
