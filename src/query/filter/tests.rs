//! The filter language: parsing, printing, evaluating.

use proptest::prelude::*;

use super::*;
use crate::field::Field;
use crate::status::Status;
use crate::store::{Cold, Hot, RecordBytes, StoredRun, encode_record};
use crate::value_map::ValueMap;

fn parse(text: &str) -> Filter {
    Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    Filter::parse(text).unwrap_err().to_string()
}

fn cmp(field: Field, op: CmpOp, v: impl Into<Value>) -> Filter {
    Filter::Compare {
        field,
        op,
        literal: Literal::Value(v.into()),
    }
}

fn summary(k: &str) -> Field {
    Field::Summary(k.into())
}

// ------------------------------------------------------------ parsing

#[test]
fn every_comparison_operator_parses() {
    for (text, op) in [
        ("=", CmpOp::Eq),
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<", CmpOp::Lt),
        ("<=", CmpOp::Le),
        (">", CmpOp::Gt),
        (">=", CmpOp::Ge),
    ] {
        assert_eq!(
            parse(&format!("summary.acc {text} 1")),
            cmp(summary("acc"), op, 1i64),
            "{text}"
        );
        assert_eq!(
            parse(&format!("summary.acc{text}1")),
            cmp(summary("acc"), op, 1i64),
            "{text} unspaced"
        );
    }
}

#[test]
fn in_not_in_glob_has_and_exists_parse() {
    assert_eq!(
        parse("hparams.optim.lr in (0.1, 0.01)"),
        Filter::In {
            field: Field::Hparam("optim.lr".into()),
            literals: vec![
                Literal::Value(Value::Float(0.1)),
                Literal::Value(Value::Float(0.01))
            ],
            negated: false
        }
    );
    assert!(matches!(
        parse("status not in ('failed')"),
        Filter::In { negated: true, .. }
    ));
    assert_eq!(
        parse("hparams.model.backbone ~ 'vit*'"),
        Filter::Glob {
            field: Field::Hparam("model.backbone".into()),
            pattern: "vit*".into()
        }
    );
    assert_eq!(
        parse("tags has 'sweep:1'"),
        Filter::HasTag("sweep:1".into())
    );
    assert_eq!(
        parse("exists summary.val_acc"),
        Filter::Exists(summary("val_acc"))
    );
    assert_eq!(
        parse("not exists summary.val_acc"),
        Filter::Not(Box::new(Filter::Exists(summary("val_acc"))))
    );
}

#[test]
fn every_literal_form_parses() {
    let lit = |text: &str| match parse(&format!("hparams.x = {text}")) {
        Filter::Compare { literal, .. } => literal,
        other => panic!("{other:?}"),
    };
    assert_eq!(lit("0.01"), Literal::Value(Value::Float(0.01)));
    assert_eq!(lit("1e-4"), Literal::Value(Value::Float(1e-4)));
    assert_eq!(lit("-3"), Literal::Value(Value::Int(-3)));
    assert_eq!(lit("+7"), Literal::Value(Value::Int(7)));
    assert_eq!(lit(r"'it\'s'"), Literal::Value(Value::Str("it's".into())));
    assert_eq!(lit(r#""dq""#), Literal::Value(Value::Str("dq".into())));
    assert_eq!(lit("TRUE"), Literal::Value(Value::Bool(true)));
    assert_eq!(lit("false"), Literal::Value(Value::Bool(false)));
    assert_eq!(lit("Null"), Literal::Value(Value::Null));
    let time = |text: &str| match parse(&format!("created_at > {text}")) {
        Filter::Compare { literal, .. } => literal,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        time("-7d"),
        Literal::Time(TimeLiteral::Relative {
            amount: 7,
            unit: 'd'
        })
    );
    assert_eq!(
        time("-12h"),
        Literal::Time(TimeLiteral::Relative {
            amount: 12,
            unit: 'h'
        })
    );
    assert_eq!(
        time("-30m"),
        Literal::Time(TimeLiteral::Relative {
            amount: 30,
            unit: 'm'
        })
    );
    assert_eq!(
        time("2026-11-01"),
        Literal::Time(TimeLiteral::Absolute {
            text: "2026-11-01".into(),
            epoch: 1_793_491_200.0
        })
    );
    assert_eq!(
        time("2026-11-01T12:00"),
        Literal::Time(TimeLiteral::Absolute {
            text: "2026-11-01T12:00".into(),
            epoch: 1_793_534_400.0
        })
    );
    assert_eq!(
        time("1700000000"),
        Literal::Value(Value::Int(1_700_000_000)),
        "epoch seconds"
    );
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let a = || cmp(summary("a"), CmpOp::Eq, 1i64);
    let b = || cmp(summary("b"), CmpOp::Eq, 1i64);
    let c = || cmp(summary("c"), CmpOp::Eq, 1i64);
    let and = |x, y| Filter::And(Box::new(x), Box::new(y));
    let or = |x, y| Filter::Or(Box::new(x), Box::new(y));
    let not = |x| Filter::Not(Box::new(x));
    assert_eq!(
        parse("summary.a = 1 or summary.b = 1 and summary.c = 1"),
        or(a(), and(b(), c()))
    );
    assert_eq!(
        parse("summary.a = 1 and summary.b = 1 or summary.c = 1"),
        or(and(a(), b()), c())
    );
    assert_eq!(
        parse("not summary.a = 1 and summary.b = 1"),
        and(not(a()), b())
    );
    assert_eq!(
        parse("not (summary.a = 1 and summary.b = 1)"),
        not(and(a(), b()))
    );
    assert_eq!(
        parse("(summary.a = 1 or summary.b = 1) and summary.c = 1"),
        and(or(a(), b()), c())
    );
    assert_eq!(
        parse("summary.a = 1 AND summary.b = 1 Or NOT summary.c = 1"),
        or(and(a(), b()), not(c()))
    );
}

#[test]
fn backticks_quote_keys_with_any_character() {
    assert_eq!(
        parse("summary.`top-1 acc` > 0.5"),
        cmp(summary("top-1 acc"), CmpOp::Gt, 0.5)
    );
    assert_eq!(
        parse("summary.val/loss < 1"),
        cmp(summary("val/loss"), CmpOp::Lt, 1i64)
    );
    assert_eq!(
        parse("hparams.a.b-c:d = 1"),
        cmp(Field::Hparam("a.b-c:d".into()), CmpOp::Eq, 1i64)
    );
}

#[test]
fn a_parse_error_says_what_was_expected_and_where() {
    let e = err("summary.acc > ");
    assert!(
        e.starts_with(
            "expected a value (a number, a 'string', true, false, null), found the end at column 15"
        ),
        "{e}"
    );
    assert!(
        e.ends_with("\n  summary.acc > \n                ^"),
        "{e:?}"
    );
    let e = err("summary.acc 0.5");
    assert!(e.contains("expected an operator (= != < <= > >= ~ in has) after the field, found `0.5` at column 13"), "{e}");
    let e = err("(summary.acc > 1");
    assert!(
        e.contains("expected `)`, found the end at column 17"),
        "{e}"
    );
    let e = err("summary.acc > 1 summary.b > 2");
    assert!(
        e.contains("expected `and`, `or` or the end, found `summary.b` at column 17"),
        "{e}"
    );
    let e = err("notes = 'abc");
    assert!(
        e.contains("unclosed string: missing `'` at column 9"),
        "{e}"
    );
    let e = err("summary.`abc > 1");
    assert!(e.contains("unclosed backtick"), "{e}");
    let e = err("status in 'a'");
    assert!(e.contains("expected `(` to open the list"), "{e}");
    let e = err("status in ('a' 'b')");
    assert!(e.contains("expected `,` or `)` in the list"), "{e}");
    let e = err("summary.x > -7d");
    assert!(
        e.contains("`-7d` is a time: only created_at, updated_at and ended_at take times"),
        "{e}"
    );
    let e = err("created_at > 2026-13-01");
    assert!(e.contains("`2026-13-01` is not a number, a date"), "{e}");
    let e = err("summary.x has 'a'");
    assert!(e.contains("`has` applies to `tags` only"), "{e}");
    let e = err("summary.x ! 1");
    assert!(e.contains("expected `!=`"), "{e}");
    let e = err("summary.x = 1 & y");
    assert!(e.contains("unexpected character `&`"), "{e}");
    assert!(err("").contains("expected an expression, found nothing"));
    assert!(err("   ").contains("expected an expression, found nothing"));
}

#[test]
fn an_unknown_field_root_suggests_the_nearest() {
    assert!(err("sumary.acc > 1").contains("unknown field `sumary.acc`: did you mean `summary.`?"));
    assert!(err("hparam.lr = 1").contains("did you mean `hparams.`?"));
    assert!(err("stauts = 'failed'").contains("did you mean `status`?"));
    assert!(err("summary. > 1").contains("unknown field `summary.`: did you mean `summary.`?"));
    let far = err("zzzzzz = 1");
    assert!(
        far.contains("fields are run_id, status, alive, tags"),
        "{far}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}summary.a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&deep).contains("nested too deeply"));
    let nots = format!("{}summary.a = 1", "not ".repeat(10_000));
    assert!(err(&nots).contains("nested too deeply"));
    let fine = format!("{}summary.a = 1{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(parse(&fine), cmp(summary("a"), CmpOp::Eq, 1i64));
}

#[test]
fn printing_gives_back_the_expression() {
    for text in [
        "summary.a = 1 or summary.b = 1 and summary.c = 1",
        "(summary.a = 1 or summary.b = 1) and summary.c = 1",
        "summary.a = 1 and (summary.b = 1 and summary.c = 1)",
        "not (summary.a = 1 and summary.b = 1)",
        "not exists summary.`top-1 acc`",
        "hparams.optim.lr not in (0.1, 0.01, 1e-5)",
        "created_at > -7d and ended_at <= 2026-11-01T12:00",
        "notes ~ 'it\\'s *'",
        "tags has 'a_b' and alive = true and checkpoint_path = null",
        "hparams.x = 1.0",
    ] {
        assert_eq!(parse(text).to_string(), text);
    }
}

// ------------------------------------------------------------ evaluation

struct Run {
    hot: Hot,
    hparams: ValueMap,
    cold: Cold,
}

fn run() -> Run {
    let hot = Hot {
        status: Status::Completed,
        created_at: 1000.0,
        updated_at: 2000.0,
        ended_at: None,
        heartbeat_at: None,
        tags: vec!["sweep:1".into(), "dino".into()],
        summary: [
            ("acc".to_owned(), Value::Float(0.9)),
            ("loss".to_owned(), Value::Float(f64::NAN)),
            ("epochs".to_owned(), Value::Int(10)),
            ("note".to_owned(), Value::Str("ok".into())),
            ("nothing".to_owned(), Value::Null),
        ]
        .into(),
    };
    let hparams = [
        ("optim.lr".to_owned(), Value::Float(0.1)),
        ("amp".to_owned(), Value::Bool(true)),
        ("model.backbone".to_owned(), Value::Str("vit_small".into())),
    ]
    .into();
    let cold = Cold {
        run_dir: "/c/runs/r1".into(),
        checkpoint_path: None,
        notes: "baseline run".into(),
        config: [(
            "trainer".to_owned(),
            Value::Map(vec![("epochs".into(), Value::Int(90))]),
        )]
        .into(),
    };
    Run { hot, hparams, cold }
}

fn holds(text: &str) -> bool {
    let r = run();
    // Through the encoding, as queries read records.
    let bytes = encode_record(&StoredRun {
        hot: r.hot,
        hparams: r.hparams,
        cold: r.cold.clone(),
    });
    let record = RecordBytes::plain(&bytes);
    let hot = record.hot_ref(true).unwrap();
    let hparams = record.hparams_ref().unwrap();
    let view = RunView {
        run_id: "r1",
        hot: &hot,
        alive: false,
        hparams: &hparams,
        cold: Some(&r.cold),
        now: 10_000.0,
    };
    parse(text).matches(&view)
}

#[test]
fn numbers_compare_numerically_across_ints_and_floats() {
    assert!(holds("summary.epochs = 10.0"));
    assert!(holds("summary.epochs > 9.5"));
    assert!(holds("summary.acc >= 0.9 and summary.acc <= 0.9"));
    assert!(holds("summary.acc < 1"));
    assert!(holds("hparams.optim.lr in (0.01, 0.1)"));
    assert!(!holds("hparams.optim.lr not in (0.01, 0.1)"));
    assert!(holds("config.trainer.epochs = 90"));
}

#[test]
fn strings_compare_lexicographically_and_glob() {
    assert!(holds("status = 'completed'"));
    assert!(holds("status > 'a' and status < 'd'"));
    assert!(holds("hparams.model.backbone ~ 'vit*'"));
    assert!(holds("hparams.model.backbone ~ 'vit_sm?ll'"));
    assert!(!holds("hparams.model.backbone ~ 'vit'"));
    assert!(holds("notes ~ '*base*'"));
    assert!(holds("run_dir ~ '/c/*'"));
    assert!(holds("run_id = 'r1'"));
}

#[test]
fn booleans_and_null_only_test_equality() {
    assert!(holds("hparams.amp = true"));
    assert!(holds("hparams.amp != false"));
    assert!(!holds("hparams.amp > false"));
    assert!(holds("alive = false"));
    assert!(holds("summary.nothing = null"));
    assert!(!holds("summary.nothing != null"));
}

#[test]
fn missing_nan_and_mistyped_fields_make_comparisons_false() {
    for text in [
        "summary.missing > 1",
        "summary.missing != 1",
        "summary.missing in (1)",
        "summary.missing not in (1)",
        "summary.loss > 0",
        "summary.loss <= 0",
        "summary.loss != 1",
        "summary.loss in (1)",
        "summary.loss not in (1)",
        "summary.note > 1",
        "summary.acc = 'x'",
        "summary.acc ~ '*'",
        "ended_at > 0",
        "checkpoint_path = 'x'",
        "hparams.amp = 1",
    ] {
        assert!(!holds(text), "{text} should be false");
        assert!(
            holds(&format!("not ({text})")),
            "not ({text}) should be true"
        );
    }
}

#[test]
fn exists_means_present_and_not_null() {
    assert!(holds("exists summary.acc"));
    assert!(holds("exists summary.loss"), "NaN is a value");
    assert!(!holds("exists summary.nothing"));
    assert!(!holds("exists summary.missing"));
    assert!(holds("not exists ended_at"));
    assert!(holds("exists tags"));
    assert!(holds("exists notes"));
}

#[test]
fn tags_match_any_tag() {
    assert!(holds("tags has 'dino'"));
    assert!(!holds("tags has 'din'"));
    assert!(holds("tags = 'dino'"));
    assert!(holds("tags != 'byol'"));
    assert!(holds("tags ~ 'sweep:*'"));
    assert!(holds("tags in ('byol', 'dino')"));
    assert!(holds("tags not in ('byol', 'moco')"));
    assert!(!holds("tags > 'a'"));
}

#[test]
fn times_compare_with_dates_and_relative_times() {
    // now = 10_000: -2h is 2_800.
    assert!(holds("created_at < -2h"));
    assert!(!holds("created_at > -2h"));
    assert!(holds("updated_at < 1970-01-02"));
    assert!(holds("updated_at = 2000"));
}

#[test]
fn logic_combines_as_written() {
    assert!(holds(
        "(tags has 'dino' or tags has 'byol') and summary.acc > 0.8 and not tags has 'debug'"
    ));
    assert!(!holds("tags has 'byol' or summary.acc > 0.95"));
    assert!(holds(
        "tags has 'byol' or summary.acc > 0.8 and status = 'completed'"
    ));
}

#[test]
fn filters_name_only_the_sections_they_read() {
    assert_eq!(
        parse("status = 'running' and created_at > 1 and alive = true and run_id ~ 'a*'").needs(),
        eval::Needs::default()
    );
    for hot in [
        "summary.a > 1",
        "tags has 'x'",
        "tags ~ 'x*'",
        "exists summary.a",
    ] {
        let needs = parse(hot).needs();
        assert!(needs.hot && !needs.hparams && !needs.cold, "{hot}");
    }
    assert!(parse("hparams.a = 1").needs().hparams);
    assert!(!parse("hparams.a = 1").needs().hot);
    assert!(!parse("hparams.a = 1").needs().cold);
    assert!(parse("config.a = 1").needs().cold);
    assert!(parse("notes ~ 'x'").needs().cold);
}

// ------------------------------------------------------------ properties

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_][a-z0-9_./:-]{0,8}", "[a-z ]{1,6}[+%]?",]
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        key().prop_map(Field::Summary),
        key().prop_map(Field::Hparam),
        key().prop_map(Field::Config),
        prop::sample::select(Field::COLUMNS.to_vec()).prop_map(|(_, field)| field),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<i64>().prop_map(|i| Literal::Value(Value::Int(i))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Literal::Value(Value::Float(f))),
        "[ -~]{0,8}".prop_map(|s| Literal::Value(Value::from(s))),
        any::<bool>().prop_map(|b| Literal::Value(Value::Bool(b))),
        Just(Literal::Value(Value::Null)),
    ]
}

fn time_literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        (
            0u64..10_000,
            prop::sample::select(vec!['s', 'm', 'h', 'd', 'w'])
        )
            .prop_map(|(amount, unit)| Literal::Time(TimeLiteral::Relative { amount, unit })),
        (1970i64..2100, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60).prop_map(|(y, mo, d, h, mi)| {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}");
            let epoch = time::parse_absolute(&text).unwrap();
            Literal::Time(TimeLiteral::Absolute { text, epoch })
        }),
    ]
}

fn op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ])
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (field(), op(), literal()).prop_map(|(field, op, literal)| Filter::Compare {
            field,
            op,
            literal
        }),
        (
            prop::sample::select(vec![Field::CreatedAt, Field::UpdatedAt, Field::EndedAt]),
            op(),
            time_literal()
        )
            .prop_map(|(field, op, literal)| Filter::Compare { field, op, literal }),
        (
            field(),
            proptest::collection::vec(literal(), 1..4),
            any::<bool>()
        )
            .prop_map(|(field, literals, negated)| Filter::In {
                field,
                literals,
                negated
            }),
        (field(), "[ -~]{0,6}").prop_map(|(field, pattern)| Filter::Glob { field, pattern }),
        "[ -~]{0,6}".prop_map(Filter::HasTag),
        field().prop_map(Filter::Exists),
    ]
}

pub(crate) fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

proptest! {
    /// Printing then parsing gives the same expression.
    #[test]
    fn print_then_parse_round_trips(f in filter()) {
        let text = f.to_string();
        let back = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, f, "{}", text);
    }

    /// Whatever the input, parsing returns, never panics.
    #[test]
    fn parsing_never_panics(text in "[ -~]{0,40}") {
        let _ = Filter::parse(&text);
    }
}

#[test]
fn a_non_ascii_letter_outside_quotes_is_an_error_not_a_hang() {
    // Found by the fuzzer: a letter the lexer did not consume looped forever.
    let e = Filter::parse("(ts\u{612}baaaa = 1")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("unexpected character `\u{612}` at column 4"),
        "{e}"
    );
    let e = Filter::parse("é = 1").unwrap_err().to_string();
    assert!(e.starts_with("unexpected character `é` at column 1"), "{e}");
    assert!(
        Filter::parse("summary.`é` = 1").is_ok(),
        "backticks take any character"
    );
}
