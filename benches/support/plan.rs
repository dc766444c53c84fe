//! What each run holds: its sidecar and the contents of its other files,
//! a pure function of the seed, the run's index and the run count.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runreg::{Sidecar, Status, Value, ValueMap};

use super::rng::{Rng, run_id};
use super::{AGE_S, FIXED_TAG, FIXED_TAG_RUNS, SPAN_S, SWEEPS, TREE_END, sweep_tag};

/// `(YYYYMMDD, HHMMSS)` of an epoch second, in UTC.
pub(super) fn utc_folders(epoch_s: u64) -> (String, String) {
    let days = (epoch_s / 86_400) as i64;
    let secs = epoch_s % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}{month:02}{day:02}"),
        format!("{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60),
    )
}

pub(super) fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub(super) fn from_epoch(s: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(s.max(0.0))
}

/// What a sweep shares across its runs (a SLURM array over lr, wd, seed).
struct SweepBase {
    backbone: &'static str,
    method: &'static str,
    dataset: &'static str,
    optimizer: &'static str,
    max_epochs: i64,
}

const BACKBONES: &[&str] = &[
    "resnet18",
    "resnet50",
    "vit_small",
    "vit_base",
    "convnext_tiny",
];
const METHODS: &[&str] = &["simclr", "byol", "dino", "vicreg", "barlow_twins", "mae"];
const DATASETS: &[&str] = &["cifar10", "cifar100", "stl10", "imagenet100", "imagenet"];
const OPTIMIZERS: &[&str] = &["sgd", "adamw", "lars", "lamb"];
const NOTES: &[&str] = &[
    "baseline rerun",
    "lr warmup \"linear\" then cosine",
    "diverged after epoch 3? check grad-norm",
    "réglage fin — fine-tune ✓",
    "requeued after preemption",
];

fn sweep_base(seed: u64, sweep: u64) -> SweepBase {
    let mut rng = Rng::derive(seed, 2, sweep);
    SweepBase {
        backbone: rng.pick(BACKBONES),
        method: rng.pick(METHODS),
        dataset: rng.pick(DATASETS),
        optimizer: rng.pick(OPTIMIZERS),
        max_epochs: rng.pick(&[100, 200, 400, 800]),
    }
}

/// One run, planned: everything but the files' mtimes is decided here.
pub(super) struct Plan {
    pub(super) run_id: String,
    /// `YYYYMMDD/HHMMSS/run_id` under `runs/`.
    pub(super) rel_dir: PathBuf,
    pub(super) sidecar: Sidecar,
    pub(super) hparams_yaml: String,
    pub(super) summary_json: String,
    pub(super) metrics_csv: String,
    /// Seconds the heartbeat's mtime lies before the time of writing
    /// (`None`: no heartbeat file), or an absolute epoch (`Err`).
    pub(super) heartbeat: Option<Result<f64, f64>>,
    pub(super) checkpoint: bool,
    pub(super) leftover_tmp: Option<String>,
}

pub(super) fn plan_run(seed: u64, index: u64, runs: u64, nan: bool, runs_dir: &Path) -> Plan {
    let mut rng = Rng::derive(seed, 1, index);
    let run_id = run_id(seed, index);

    // One whole second per run, so each gets its own <HHMMSS> folder.
    let spacing = (SPAN_S / runs.max(1)).max(1);
    let start = TREE_END - (spacing * runs).max(SPAN_S);
    let created_at = (start + index * spacing) as f64 + rng.range(0.0, spacing as f64);
    let (day, hms) = utc_folders(created_at as u64);
    let rel_dir = PathBuf::from(&day).join(&hms).join(&run_id);
    let run_dir = runs_dir.join(&rel_dir);

    // Sweeps are contiguous in time, like array jobs; 10% of runs are not
    // part of one.
    let in_sweep = rng.chance(0.9);
    let sweep = index * SWEEPS as u64 / runs.max(1);
    let base = sweep_base(seed, if in_sweep { sweep } else { 1000 + index });

    let status = match rng.f64() {
        p if p < 0.75 => Status::Completed,
        p if p < 0.85 => Status::Failed,
        p if p < 0.95 => Status::Running,
        _ => Status::Interrupted,
    };
    let progress = match status {
        Status::Completed => 1.0,
        _ => rng.range(0.02, 0.95),
    };

    let hparams = hparams(&mut rng, &base);
    let epochs = (base.max_epochs as f64 * progress).floor();
    let summary = summary(&mut rng, &status, epochs, &hparams, nan);

    let mut tags = vec![base.backbone.to_owned(), base.method.to_owned()];
    if in_sweep {
        tags.push(sweep_tag(sweep as usize));
    }
    for (tag, p) in [("baseline", 0.04), ("debug", 0.03), ("ablation", 0.02)] {
        if rng.chance(p) {
            tags.push(tag.to_owned());
        }
    }
    // The same number of runs whatever the tree's size: a query on this tag
    // should cost the same at 10k and 100k runs.
    let step = (runs / FIXED_TAG_RUNS).max(1);
    if index.is_multiple_of(step) && index / step < FIXED_TAG_RUNS {
        tags.push(FIXED_TAG.to_owned());
    }

    let duration = rng.range(1200.0, 2.0 * 86_400.0) * progress.max(0.05);
    let ended_at = (status != Status::Running).then_some(created_at + duration);
    let updated_at = ended_at.unwrap_or(created_at + duration) + rng.range(0.0, 5.0);
    let checkpoint = status == Status::Completed || rng.chance(0.5);
    let checkpoint_path = checkpoint.then(|| {
        run_dir
            .join("checkpoints/last.ckpt")
            .to_string_lossy()
            .into_owned()
    });

    let heartbeat = if rng.chance(0.03) {
        None
    } else {
        Some(match status {
            Status::Running if rng.chance(0.85) => Ok(rng.range(0.0, 60.0)),
            Status::Running => Ok(rng.range(AGE_S as f64, 3.0 * 86_400.0)),
            _ => Err(updated_at),
        })
    };

    let mut sidecar = Sidecar::new(&run_id);
    sidecar.run_dir = Some(run_dir.to_string_lossy().into_owned());
    sidecar.status = status;
    sidecar.created_at = Some(created_at);
    sidecar.ended_at = ended_at;
    sidecar.updated_at = Some(updated_at);
    sidecar.tags = tags;
    sidecar.notes = if rng.chance(0.15) {
        rng.pick(NOTES).to_owned()
    } else {
        String::new()
    };
    sidecar.checkpoint_path = checkpoint_path;

    let hparams_yaml = hparams
        .iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect::<String>();
    let summary_json = summary_json(&run_id, &run_dir, updated_at, &summary);
    let metrics_csv = metrics_csv(&mut rng, epochs, &summary);
    let leftover_tmp = rng
        .chance(0.01)
        .then(|| format!(".sidecar.json.{:08x}.tmp", rng.next_u64() as u32));
    sidecar.hparams = hparams;
    sidecar.summary = summary;

    Plan {
        run_id,
        rel_dir,
        sidecar,
        hparams_yaml,
        summary_json,
        metrics_csv,
        heartbeat,
        checkpoint,
        leftover_tmp,
    }
}

/// About 55 flattened hparams of mixed types, as a Hydra config flattened
/// by stable-pretraining's logger.
fn hparams(rng: &mut Rng, base: &SweepBase) -> ValueMap {
    let mut h = ValueMap::new();
    let mut put = |key: &str, value: Value| {
        h.insert(key, value);
    };
    let s = |text: &str| Value::from(text);
    let f = Value::Float;
    let i = Value::Int;
    let b = Value::Bool;

    put("optim.name", s(base.optimizer));
    put(
        "optim.lr",
        f(rng.pick(&[0.1, 0.03, 0.01, 0.003, 0.001, 0.0003])),
    );
    put(
        "optim.weight_decay",
        f(rng.pick(&[0.0, 1e-6, 1e-5, 0.0001, 0.0005, 0.05])),
    );
    put("optim.momentum", f(0.9));
    put("optim.betas.0", f(0.9));
    put("optim.betas.1", f(rng.pick(&[0.95, 0.999])));
    put("optim.eps", f(1e-8));
    put("optim.nesterov", b(rng.chance(0.3)));
    put(
        "scheduler.name",
        s(rng.pick(&["cosine", "linear_warmup_cosine", "step", "constant"])),
    );
    put("scheduler.warmup_epochs", i(rng.pick(&[0, 5, 10, 20])));
    put("scheduler.min_lr", f(rng.pick(&[0.0, 1e-6])));
    put("model.backbone", s(base.backbone));
    put("model.pretrained", b(rng.chance(0.2)));
    put("model.drop_path_rate", f(rng.pick(&[0.0, 0.1, 0.2])));
    put(
        "model.projector.hidden_dim",
        i(rng.pick(&[2048, 4096, 8192])),
    );
    put("model.projector.output_dim", i(rng.pick(&[128, 256, 2048])));
    put("model.projector.num_layers", i(rng.pick(&[2, 3])));
    put("model.projector.batch_norm", b(rng.chance(0.7)));
    let ema = rng.chance(0.5);
    put("model.ema.enabled", b(ema));
    if ema {
        put("model.ema.momentum", f(rng.pick(&[0.99, 0.996, 0.999])));
    }
    put("data.name", s(base.dataset));
    put(
        "data.root",
        Value::from(format!("/datasets/{}", base.dataset)),
    );
    put("data.batch_size", i(rng.pick(&[128, 256, 512, 1024])));
    put("data.num_workers", i(rng.pick(&[8, 10, 16])));
    let image_size = match base.dataset {
        "cifar10" | "cifar100" => 32,
        "stl10" => 96,
        _ => 224,
    };
    put("data.image_size", i(image_size));
    put("data.val_fraction", f(0.1));
    put("data.pin_memory", b(true));
    put("data.persistent_workers", b(rng.chance(0.5)));
    put("trainer.max_epochs", i(base.max_epochs));
    put(
        "trainer.precision",
        s(rng.pick(&["16-mixed", "bf16-mixed", "32-true"])),
    );
    put("trainer.accumulate_grad_batches", i(rng.pick(&[1, 2, 4])));
    put("trainer.gradient_clip_val", f(rng.pick(&[0.0, 1.0, 3.0])));
    put("trainer.devices", i(rng.pick(&[1, 2, 4, 8])));
    put("trainer.num_nodes", i(rng.pick(&[1, 1, 1, 2])));
    put("trainer.strategy", s(rng.pick(&["ddp", "auto"])));
    put("trainer.log_every_n_steps", i(50));
    put("trainer.check_val_every_n_epoch", i(rng.pick(&[1, 5, 10])));
    put("trainer.deterministic", b(false));
    put("trainer.benchmark", b(true));
    put("augment.crop.scale.0", f(rng.pick(&[0.08, 0.2, 0.3])));
    put("augment.crop.scale.1", f(1.0));
    put("augment.color_jitter.brightness", f(0.4));
    put("augment.color_jitter.contrast", f(0.4));
    put("augment.color_jitter.saturation", f(rng.pick(&[0.2, 0.4])));
    put("augment.color_jitter.hue", f(0.1));
    put("augment.color_jitter.p", f(0.8));
    put("augment.grayscale_p", f(0.2));
    put("augment.gaussian_blur_p", f(rng.pick(&[0.0, 0.5, 1.0])));
    put("augment.solarization_p", f(rng.pick(&[0.0, 0.2])));
    put("augment.horizontal_flip_p", f(0.5));
    put("loss.name", s(base.method));
    put("loss.temperature", f(rng.pick(&[0.07, 0.1, 0.2, 0.5])));
    put("seed", i(rng.below(5) as i64));
    put("logger.project", s("ssl-benchmarks"));
    put("checkpoint.monitor", s("val_acc"));
    put("checkpoint.save_top_k", i(1));
    put("compile", b(rng.chance(0.3)));
    if rng.chance(0.2) {
        put("resume_from", Value::Null);
    }
    h
}

/// The 10 summary metrics (always floats, as the logger writes them).
fn summary(rng: &mut Rng, status: &Status, epochs: f64, hparams: &ValueMap, nan: bool) -> ValueMap {
    let mut m = ValueMap::new();
    let lr = hparams
        .get("optim.lr")
        .and_then(Value::as_f64)
        .unwrap_or(0.01);
    let batch = hparams
        .get("data.batch_size")
        .and_then(Value::as_f64)
        .unwrap_or(256.0);
    let steps_per_epoch = (50_000.0 / batch).ceil();
    let skill = rng.range(0.0, 1.0);
    let val_acc = 0.1 + 0.85 * skill * (epochs / (epochs + 20.0));
    let mut put = |key: &str, v: f64| {
        m.insert(key, Value::Float(v));
    };
    put("epoch", epochs);
    put(
        "step",
        epochs * steps_per_epoch + rng.below(steps_per_epoch as u64) as f64,
    );
    put("train_loss", rng.range(0.05, 2.5) * (1.2 - val_acc));
    put("lr", lr * rng.range(0.0, 1.0));
    put("grad_norm", rng.range(0.1, 12.0));
    put("throughput", rng.range(800.0, 9000.0));
    // Early running runs have not validated yet.
    if !(*status == Status::Running && rng.chance(0.1)) {
        put("val_acc", val_acc);
        put("val_acc_top5", (val_acc + rng.range(0.05, 0.3)).min(0.999));
        put("val_loss", rng.range(0.1, 3.0) * (1.2 - val_acc));
        put("knn_acc", val_acc * rng.range(0.8, 1.0));
    }
    if nan && *status == Status::Failed && rng.chance(0.6) {
        put("train_loss", f64::NAN);
        if rng.chance(0.3) {
            put("grad_norm", f64::INFINITY);
        }
    }
    m
}

fn summary_json(run_id: &str, run_dir: &Path, updated_at: f64, summary: &ValueMap) -> String {
    let number = |v: &Value| {
        v.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    };
    let metrics: serde_json::Map<String, serde_json::Value> = summary
        .iter()
        .map(|(k, v)| {
            let last = number(v);
            (
                k.to_owned(),
                serde_json::json!({"last": last, "min": last, "max": last, "count": 40}),
            )
        })
        .collect();
    let epoch = summary.get("epoch").and_then(Value::as_f64).unwrap_or(0.0) as i64;
    let step = summary.get("step").and_then(Value::as_f64).unwrap_or(0.0) as i64;
    let doc = serde_json::json!({
        "schema_version": 1,
        "run_id": run_id,
        "run_dir": run_dir.to_string_lossy(),
        "updated_at": updated_at,
        "step": step,
        "epoch": epoch,
        "metrics": metrics,
    });
    serde_json::to_string_pretty(&doc).expect("a JSON document serializes")
}

fn metrics_csv(rng: &mut Rng, epochs: f64, summary: &ValueMap) -> String {
    let mut out = String::from("epoch,step,train_loss,val_loss,val_acc,lr\n");
    let rows = (epochs as u64).clamp(1, 4);
    let last_loss = summary
        .get("train_loss")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    for e in 0..rows {
        let loss = last_loss * (1.0 + (rows - e) as f64 * 0.3);
        out.push_str(&format!(
            "{e},{},{loss:.6},{:.6},{:.6},{:.6}\n",
            (e + 1) * 100,
            loss * 1.1,
            rng.range(0.1, 0.9),
            rng.range(0.0, 0.1)
        ));
    }
    out
}
