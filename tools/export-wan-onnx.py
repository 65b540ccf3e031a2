#!/usr/bin/env python3
"""Export a diffusers Wan2.2 checkpoint folder to ONNX in Framecast's `framecast-wan-onnx` layout.

Supported checkpoints (diffusers format, e.g. Wan-AI/Wan2.2-T2V-A14B-Diffusers):
  t2v-a14b   two transformers (high/low-noise experts), Wan2.1 VAE (z 16, /8)
  i2v-a14b   two transformers, 36 input channels (latent + mask + image latent), VAE encoder too
  ti2v-5b    one transformer, per-token timesteps, Wan2.2 VAE (z 48, /16), VAE encoder too

What it writes into --out:
  manifest.json                     read by gpu-worker's OnnxVideoRuntime (wan-manifest.schema.ts)
  tokenizer.json, tokenizer_config.json
  text_encoder.onnx                 input_ids, attention_mask [1, L] -> last_hidden_state [1, L, D]
  transformer.onnx | transformer_high_noise.onnx + transformer_low_noise.onnx
                                    hidden_states, timestep, encoder_hidden_states -> noise_pred
  vae_decoder.onnx                  latent_sample (de-normalised) -> sample in [-1, 1]
  vae_encoder.onnx                  sample -> latent (the distribution's mode), image models only
  *.onnx.data                       external weights (always for the >2 GB graphs)
  export_report.json                versions, sizes and each graph's max |ONNX Runtime - torch|

Graphs are exported with the dynamo exporter (torch.onnx.export(..., dynamo=True); the TorchScript
exporter cannot export aten::rms_norm or aten::_upsample_nearest_exact2d) at one video size (the
Wan VAE unrolls its per-frame loop, so frames are fixed); the manifest's limits are that size.
Weights are stored in --dtype (fp16 or bf16); inputs/outputs are float16 for fp16 graphs (the
manifest says so) and float32 for bf16 ones (onnxruntime-node has no bfloat16 tensors).

`--help` and `--dry-run` (manifest only, from the checkpoint's JSON configs) need no torch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

MANIFEST_FORMAT = "framecast-wan-onnx"
NUM_TRAIN_TIMESTEPS = 1000

# The model authors' recommended settings (Wan-Video/Wan2.2 wan/configs): steps, shift, guidance
# (high-noise stage, low-noise stage), boundary ratio, default size, frames and frame rate.
VARIANTS: dict[str, dict[str, Any]] = {
    "t2v-a14b": {
        "steps": 40, "shift": 12.0, "guidance": 4.0, "guidance2": 3.0, "boundary": 0.875,
        "size": (832, 480), "frames": 81, "fps": 16,
    },
    "i2v-a14b": {
        "steps": 40, "shift": 5.0, "guidance": 3.5, "guidance2": 3.5, "boundary": 0.900,
        "size": (832, 480), "frames": 81, "fps": 16,
    },
    "ti2v-5b": {
        "steps": 50, "shift": 5.0, "guidance": 5.0, "guidance2": None, "boundary": None,
        "size": (1280, 704), "frames": 121, "fps": 24,
    },
}

# The official Wan code's default negative prompt (wan/configs/shared_config.py).
DEFAULT_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)

COMPONENTS = ("text_encoder", "transformer", "transformer_2", "vae_decoder", "vae_encoder")

# Relative tolerance (max |ORT - torch| / max |torch|) per weight dtype for the verification.
TOLERANCE = {"fp32": 1e-3, "fp16": 3e-2, "bf16": 6e-2}


class ExportError(Exception):
    pass


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default only where there is one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


EPILOG = """examples:
  # text-to-video A14B, fp16 graphs at 832x480x81, verified on the GPU
  python3 tools/export-wan-onnx.py ~/ckpt/Wan2.2-T2V-A14B-Diffusers --out models/wan22-t2v-a14b
  # TI2V-5B at 1280x704x121 with diffusers' sigma grid
  python3 tools/export-wan-onnx.py ~/ckpt/Wan2.2-TI2V-5B-Diffusers --out models/wan22-ti2v-5b --flow-sigmas diffusers
  # only the manifest, from the configs (no torch)
  python3 tools/export-wan-onnx.py ~/ckpt/Wan2.2-I2V-A14B-Diffusers --out /tmp/m --dry-run
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="export-wan-onnx.py",
        description=(
            "Export a diffusers Wan2.2 checkpoint (T2V-A14B, I2V-A14B, TI2V-5B) to ONNX in the\n"
            "framecast-wan-onnx layout that gpu-worker's OnnxVideoRuntime loads (manifest.json,\n"
            "tokenizer, text encoder, transformer(s), VAE decoder/encoder; dynamo exporter, external\n"
            "weights), and verify every graph against torch on one input. Needs torch, diffusers,\n"
            "transformers, onnx, onnxscript and onnxruntime(-gpu), except for --help and --dry-run."
        ),
        formatter_class=_HelpFormatter,
        epilog=EPILOG,
    )
    p.add_argument("checkpoint", type=Path, help="diffusers checkpoint folder (model_index.json, text_encoder/, transformer/, vae/, ...)")
    p.add_argument("--out", type=Path, required=True, help="output model directory (FRAMECAST_MODEL_DIR)")
    p.add_argument("--variant", choices=["auto", *VARIANTS], default="auto", help="model family; auto reads model_index.json and the configs")
    p.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], default="fp16", help="weight dtype of the transformer(s) and the VAE")
    p.add_argument("--text-encoder-dtype", choices=["fp16", "bf16", "fp32"], default="fp32",
                   help="weight dtype of the UMT5 text encoder (T5 overflows in fp16; fp32 is exact, bf16 halves its size)")
    p.add_argument("--width", type=int, help="export width (default: 832 for A14B, 1280 for TI2V-5B)")
    p.add_argument("--height", type=int, help="export height (default: 480 for A14B, 704 for TI2V-5B)")
    p.add_argument("--frames", type=int, help="export frame count, 4k+1 (default: 81 for A14B, 121 for TI2V-5B)")
    p.add_argument("--text-length", type=int, default=512, help="text encoder length L (diffusers' max_sequence_length)")
    p.add_argument("--steps", type=int, help="manifest defaults.steps (default: the official 40 / 50)")
    p.add_argument("--draft-steps", type=int, help="manifest defaults.draftSteps (default: half of --steps)")
    p.add_argument("--shift", type=float, help="manifest defaults.shift (default: the official 12 T2V, 5 I2V/TI2V)")
    p.add_argument("--flow-sigmas", choices=["wan", "diffusers"], default="wan",
                   help="manifest defaults.flowSigmas: the official Wan2.2 sigma grid or diffusers >= 0.37's")
    p.add_argument("--name", help="manifest name (default: wan2.2-<variant>)")
    p.add_argument("--components", default=",".join(COMPONENTS),
                   help="comma-separated subset of " + ",".join(COMPONENTS) + " (the manifest always lists all the model needs)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset")
    p.add_argument("--device", default="auto", help="torch device for export and verification: auto (cuda if available), cuda, cuda:1, cpu")
    p.add_argument("--no-verify", action="store_true", help="skip running each graph in ONNX Runtime against torch")
    p.add_argument("--dry-run", action="store_true", help="only read the JSON configs and write manifest.json (no torch needed)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files in --out")
    args = p.parse_args(argv)
    unknown = [c for c in args.components.split(",") if c and c not in COMPONENTS]
    if unknown:
        p.error(f"unknown components: {', '.join(unknown)}")
    return args


# ---------------------------------------------------------------------------------------------
# Configs and manifest (plain JSON; no torch)


def read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError as e:
        raise ExportError(f"missing {path}") from e
    if not isinstance(data, dict):
        raise ExportError(f"{path} is not a JSON object")
    return data


def has_component(ckpt: Path, index: dict[str, Any], name: str) -> bool:
    entry = index.get(name)
    return isinstance(entry, list) and len(entry) == 2 and entry[0] is not None and (ckpt / name).is_dir()


def detect_variant(ckpt: Path, index: dict[str, Any], transformer_cfg: dict[str, Any], vae_cfg: dict[str, Any]) -> str:
    if has_component(ckpt, index, "transformer_2"):
        return "i2v-a14b" if int(transformer_cfg.get("in_channels", 16)) > int(transformer_cfg.get("out_channels", 16)) else "t2v-a14b"
    if index.get("expand_timesteps") or int(vae_cfg.get("z_dim", 16)) == 48:
        return "ti2v-5b"
    raise ExportError("not a Wan2.2 A14B or TI2V-5B checkpoint (no transformer_2, no expand_timesteps); pass --variant")


def export_size(args: argparse.Namespace, variant: str) -> tuple[int, int, int]:
    v = VARIANTS[variant]
    width = args.width or v["size"][0]
    height = args.height or v["size"][1]
    frames = args.frames or v["frames"]
    if (frames - 1) % 4 != 0 or frames < 1:
        raise ExportError(f"--frames must be 4k+1, got {frames}")
    return width, height, frames


def build_manifest(args: argparse.Namespace, ckpt: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest from the checkpoint's configs, and facts the export needs."""
    index = read_json(ckpt / "model_index.json")
    t_cfg = read_json(ckpt / "transformer" / "config.json")
    vae_cfg = read_json(ckpt / "vae" / "config.json")
    te_cfg = read_json(ckpt / "text_encoder" / "config.json")
    variant = detect_variant(ckpt, index, t_cfg, vae_cfg) if args.variant == "auto" else args.variant
    v = VARIANTS[variant]
    width, height, frames = export_size(args, variant)

    z = int(vae_cfg.get("z_dim", 16))
    spatial = int(vae_cfg.get("scale_factor_spatial") or 8)
    temporal = int(vae_cfg.get("scale_factor_temporal") or 4)
    patch = [int(x) for x in t_cfg.get("patch_size", [1, 2, 2])]
    multiple = spatial * max(patch[1], patch[2])
    if width % multiple or height % multiple:
        raise ExportError(f"width and height must be multiples of {multiple} for {variant}, got {width}x{height}")
    mean = vae_cfg.get("latents_mean")
    std = vae_cfg.get("latents_std")
    if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == z and len(std) == z):
        raise ExportError(f"vae/config.json needs latents_mean and latents_std with {z} values")
    in_ch = int(t_cfg.get("in_channels", z))
    out_ch = int(t_cfg.get("out_channels", z))
    if out_ch != z:
        raise ExportError(f"transformer out_channels {out_ch} != VAE z_dim {z}")

    two_experts = has_component(ckpt, index, "transformer_2")
    if two_experts != (variant != "ti2v-5b"):
        raise ExportError(f"{variant} {'needs' if variant != 'ti2v-5b' else 'has no'} transformer_2")
    image = {"t2v-a14b": None, "i2v-a14b": "concat", "ti2v-5b": "first-frame-replace"}[variant]
    if image == "concat" and in_ch != z + temporal + z:
        raise ExportError(f"i2v transformer in_channels {in_ch}, expected {z + temporal + z}")

    dtype = {"fp16": "float16", "bf16": "float32", "fp32": "float32"}
    steps = args.steps or v["steps"]
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "name": args.name or f"wan2.2-{variant}",
        "tokenizer": {"file": "tokenizer.json", "configFile": "tokenizer_config.json", "padId": 0},
        "textEncoder": {
            "file": "text_encoder.onnx",
            "textLength": args.text_length,
            "hiddenSize": int(te_cfg.get("d_model", 4096)),
            "dtype": dtype[args.text_encoder_dtype],
            "zeroPadding": True,
        },
        "transformer": {"file": "transformer_high_noise.onnx" if two_experts else "transformer.onnx", "dtype": dtype[args.dtype], "timestepDtype": "float32"},
        "perTokenTimestep": bool(index.get("expand_timesteps", variant == "ti2v-5b")),
        "patchSize": patch,
        "vae": {
            "decoderFile": "vae_decoder.onnx",
            "dtype": dtype[args.dtype],
            "latentChannels": z,
            "spatialFactor": spatial,
            "temporalFactor": temporal,
            "latentsMean": [float(x) for x in mean],
            "latentsStd": [float(x) for x in std],
        },
        "defaults": {
            "steps": steps,
            "draftSteps": args.draft_steps or max(1, steps // 2),
            "shift": args.shift if args.shift is not None else v["shift"],
            "guidanceScale": v["guidance"],
            "scheduler": "unipc",
            "flowSigmas": args.flow_sigmas,
            "negativePrompt": DEFAULT_NEGATIVE_PROMPT,
        },
        # One exported size: the graphs are static (see the module docstring).
        "staticShape": {"width": width, "height": height, "frames": frames, "fps": v["fps"]},
        "limits": {"maxWidth": width, "maxHeight": height, "maxFrames": frames},
    }
    if two_experts:
        manifest["transformer2"] = {"file": "transformer_low_noise.onnx", "dtype": dtype[args.dtype], "timestepDtype": "float32"}
        manifest["boundaryRatio"] = float(index.get("boundary_ratio") or v["boundary"])
        manifest["defaults"]["guidanceScale2"] = v["guidance2"]
    if image is not None:
        manifest["imageConditioning"] = image
        manifest["vae"]["encoderFile"] = "vae_encoder.onnx"
    facts = {
        "variant": variant, "width": width, "height": height, "frames": frames, "z": z, "spatial": spatial,
        "temporal": temporal, "patch": patch, "in_channels": in_ch, "two_experts": two_experts,
        "text_dim": int(t_cfg.get("text_dim", te_cfg.get("d_model", 4096))),
        "scheduler_flow_shift": read_json(ckpt / "scheduler" / "scheduler_config.json").get("flow_shift")
        if (ckpt / "scheduler" / "scheduler_config.json").is_file() else None,
    }
    return manifest, facts


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Export (torch, diffusers, transformers, onnxscript, onnxruntime; imported lazily)


def torch_dtype(torch: Any, name: str) -> Any:
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[name]


def io_dtype(torch: Any, name: str) -> Any:
    # onnxruntime-node has float16 but no bfloat16 tensors: bf16 graphs keep float32 inputs/outputs.
    return torch.float16 if name == "fp16" else torch.float32


def make_wrappers(torch: Any) -> dict[str, Any]:
    nn = torch.nn

    class TextEncoderGraph(nn.Module):
        def __init__(self, encoder: Any, out_dtype: Any) -> None:
            super().__init__()
            self.encoder = encoder
            self.out_dtype = out_dtype

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.to(self.out_dtype)

    class TransformerGraph(nn.Module):
        def __init__(self, transformer: Any, dtype: Any, out_dtype: Any) -> None:
            super().__init__()
            self.transformer = transformer
            self.dtype = dtype
            self.out_dtype = out_dtype

        def forward(self, hidden_states: Any, timestep: Any, encoder_hidden_states: Any) -> Any:
            out = self.transformer(
                hidden_states=hidden_states.to(self.dtype),
                timestep=timestep,
                encoder_hidden_states=encoder_hidden_states.to(self.dtype),
                return_dict=False,
            )[0]
            return out.to(self.out_dtype)

    class VaeDecoderGraph(nn.Module):
        def __init__(self, vae: Any, dtype: Any, out_dtype: Any) -> None:
            super().__init__()
            self.vae = vae
            self.dtype = dtype
            self.out_dtype = out_dtype

        def forward(self, latent_sample: Any) -> Any:
            return self.vae.decode(latent_sample.to(self.dtype), return_dict=False)[0].to(self.out_dtype)

    class VaeEncoderGraph(nn.Module):
        def __init__(self, vae: Any, dtype: Any, out_dtype: Any) -> None:
            super().__init__()
            self.vae = vae
            self.dtype = dtype
            self.out_dtype = out_dtype

        def forward(self, sample: Any) -> Any:
            # The mode of the latent distribution (diffusers' retrieve_latents(sample_mode="argmax")).
            return self.vae.encode(sample.to(self.dtype)).latent_dist.mode().to(self.out_dtype)

    return {"text": TextEncoderGraph, "transformer": TransformerGraph, "decoder": VaeDecoderGraph, "encoder": VaeEncoderGraph}


def export_graph(torch: Any, module: Any, inputs: tuple[Any, ...], input_names: list[str], output_name: str, path: Path, opset: int, torchscript_fallback: bool = False) -> tuple[float, str]:
    """Exports with the dynamo exporter, weights in `<file>.data`; returns (seconds, exporter).

    With `torchscript_fallback` (the text encoder only: UMT5 has neither rms_norm nor nearest-exact
    upsampling) a failed dynamo export is retried with the TorchScript exporter, and the report says so.
    """
    t0 = time.time()
    for stale in (path, path.with_name(path.name + ".data")):
        if stale.exists():
            stale.unlink()
    with torch.no_grad():
        try:
            program = torch.onnx.export(
                module,
                inputs,
                dynamo=True,
                opset_version=opset,
                input_names=input_names,
                output_names=[output_name],
                external_data=True,
            )
            if program is None:
                raise ExportError(f"torch.onnx.export returned nothing for {path.name}")
            program.save(str(path), external_data=True)
            return time.time() - t0, "dynamo"
        except Exception as e:  # noqa: BLE001 - the exporters raise many kinds
            if not torchscript_fallback:
                raise ExportError(f"dynamo export of {path.name} failed: {e}") from e
            print(f"[export] dynamo export of {path.name} failed ({type(e).__name__}: {str(e)[:200]}); trying TorchScript", flush=True)
        torch.onnx.export(module, inputs, str(path), dynamo=False, opset_version=min(opset, 17), input_names=input_names, output_names=[output_name])
        return time.time() - t0, "torchscript"


def to_numpy(t: Any) -> Any:
    return t.detach().float().cpu().numpy() if t.dtype.is_floating_point else t.detach().cpu().numpy()


def verify_graph(reference: Any, path: Path, feeds: dict[str, Any], device: str) -> dict[str, Any]:
    """Runs the graph in ONNX Runtime on `feeds` (numpy, already in the graph's input dtypes) and
    compares with the torch output computed before (the torch module is freed by then)."""
    import numpy as np
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers = [("CUDAExecutionProvider", {"device_id": int(device.split(":")[1]) if ":" in device else 0}), "CPUExecutionProvider"]
    session = ort.InferenceSession(str(path), providers=providers)
    got = session.run(None, feeds)[0].astype(np.float32)
    want = reference.astype(np.float32)
    if got.shape != want.shape:
        raise ExportError(f"{path.name}: ONNX Runtime returned {got.shape}, torch {want.shape}")
    max_abs = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want))) or 1.0
    del session
    return {"maxAbs": max_abs, "maxAbsTorch": scale, "relative": max_abs / scale, "provider": providers[0] if isinstance(providers[0], str) else providers[0][0]}


def release_memory(torch: Any) -> None:
    """After the caller has dropped its references: collect, and hand cached CUDA memory back."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_export(args: argparse.Namespace, manifest: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    try:
        import numpy as np
        import torch
        from diffusers import AutoencoderKLWan, WanTransformer3DModel
        from transformers import AutoTokenizer, UMT5EncoderModel
    except ImportError as e:
        raise ExportError(f"{e}; install torch, diffusers, transformers, onnx, onnxscript, onnxruntime (see the README's 'Real weights')") from e
    if not args.no_verify:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as e:
            raise ExportError("onnxruntime is needed to verify the exports (or pass --no-verify)") from e

    ckpt: Path = args.checkpoint
    out: Path = args.out
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    wanted = set(c for c in args.components.split(",") if c)
    W = make_wrappers(torch)
    gen = torch.Generator(device="cpu").manual_seed(0)
    report: dict[str, Any] = {
        "versions": {"torch": torch.__version__, "diffusers": __import__("diffusers").__version__, "transformers": __import__("transformers").__version__},
        "device": device,
        "variant": facts["variant"],
        "size": {"width": facts["width"], "height": facts["height"], "frames": facts["frames"]},
        "dtype": args.dtype,
        "textEncoderDtype": args.text_encoder_dtype,
        "checkpointSchedulerFlowShift": facts["scheduler_flow_shift"],
        "graphs": {},
    }
    tol_main = TOLERANCE[args.dtype]
    failures: list[str] = []

    def record(name: str, file: str, exported: tuple[float, str], check: dict[str, Any] | None, tol: float) -> None:
        seconds, exporter = exported
        size = sum(p.stat().st_size for p in out.glob(file + "*"))
        entry: dict[str, Any] = {"file": file, "exporter": exporter, "seconds": round(seconds, 1), "bytes": size}
        if check is not None:
            entry.update(check)
            entry["tolerance"] = tol
            if not check["relative"] <= tol:
                failures.append(f"{file}: relative error {check['relative']:.3g} > {tol}")
        report["graphs"][name] = entry
        print(f"[export] {file}: {size / 2**30:.2f} GiB, {seconds:.0f} s" + (f", max|ORT-torch| {check['maxAbs']:.3g} (relative {check['relative']:.3g})" if check else ""), flush=True)

    # Tokenizer: the fast tokenizer's tokenizer.json, which @huggingface/tokenizers reads.
    tok = AutoTokenizer.from_pretrained(str(ckpt), subfolder="tokenizer")
    tmp_tok = out / ".tokenizer"
    tok.save_pretrained(str(tmp_tok))
    if not (tmp_tok / "tokenizer.json").is_file():
        raise ExportError("the tokenizer has no fast version (tokenizer.json); install tokenizers/sentencepiece")
    shutil.copyfile(tmp_tok / "tokenizer.json", out / "tokenizer.json")
    shutil.copyfile(tmp_tok / "tokenizer_config.json", out / "tokenizer_config.json")
    shutil.rmtree(tmp_tok)
    manifest["tokenizer"]["padId"] = int(tok.pad_token_id or 0)
    L = args.text_length
    enc = tok("a paper boat drifting on a rainy street at dusk", padding="max_length", max_length=L, truncation=True, add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    ids, mask = enc.input_ids, enc.attention_mask

    # Text encoder.
    context = None
    if "text_encoder" in wanted:
        te_dt = torch_dtype(torch, args.text_encoder_dtype)
        encoder = UMT5EncoderModel.from_pretrained(str(ckpt), subfolder="text_encoder", torch_dtype=te_dt).to(device).eval()
        module = W["text"](encoder, io_dtype(torch, args.text_encoder_dtype)).eval()
        with torch.no_grad():
            ref = module(ids.to(device), mask.to(device))
        context = ref.float().cpu()
        ref_np = to_numpy(ref)
        secs = export_graph(torch, module, (ids.to(device), mask.to(device)), ["input_ids", "attention_mask"], "last_hidden_state", out / "text_encoder.onnx", args.opset, torchscript_fallback=True)
        del module, encoder, ref
        release_memory(torch)
        check = None if args.no_verify else verify_graph(ref_np, out / "text_encoder.onnx", {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}, device)
        record("text_encoder", "text_encoder.onnx", secs, check, TOLERANCE[args.text_encoder_dtype])
    if context is None:
        context = torch.randn((1, L, facts["text_dim"]), generator=gen)
    # As diffusers' pipelines do: zero the embeddings past the prompt.
    context[:, int(mask.sum()) :] = 0

    dt = torch_dtype(torch, args.dtype)
    io_dt = io_dtype(torch, args.dtype)
    np_io = np.float16 if io_dt == torch.float16 else np.float32
    z, s, tf = facts["z"], facts["spatial"], facts["temporal"]
    F = (facts["frames"] - 1) // tf + 1
    H, Wd = facts["height"] // s, facts["width"] // s
    tokens = (F // facts["patch"][0]) * (H // facts["patch"][1]) * (Wd // facts["patch"][2])

    # Transformer(s).
    for comp, sub, file in (("transformer", "transformer", manifest["transformer"]["file"]), ("transformer_2", "transformer_2", "transformer_low_noise.onnx")):
        if comp not in wanted or (comp == "transformer_2" and not facts["two_experts"]):
            continue
        model = WanTransformer3DModel.from_pretrained(str(ckpt), subfolder=sub, torch_dtype=dt).to(device).eval()
        module = W["transformer"](model, dt, io_dt).eval()
        x = torch.randn((1, facts["in_channels"], F, H, Wd), generator=gen).to(io_dt)
        t_value = 900.0 if comp == "transformer" else 500.0
        t = torch.full((1, tokens) if manifest["perTokenTimestep"] else (1,), t_value, dtype=torch.float32)
        ctx = context.to(io_dt)
        with torch.no_grad():
            ref = module(x.to(device), t.to(device), ctx.to(device))
        ref_np = to_numpy(ref)
        secs = export_graph(torch, module, (x.to(device), t.to(device), ctx.to(device)), ["hidden_states", "timestep", "encoder_hidden_states"], "noise_pred", out / file, args.opset)
        del module, model, ref
        release_memory(torch)
        check = None if args.no_verify else verify_graph(ref_np, out / file, {"hidden_states": x.float().numpy().astype(np_io), "timestep": t.numpy(), "encoder_hidden_states": ctx.float().numpy().astype(np_io)}, device)
        record(comp, file, secs, check, tol_main)

    # VAE decoder and encoder.
    if "vae_decoder" in wanted or ("vae_encoder" in wanted and "encoderFile" in manifest["vae"]):
        vae = AutoencoderKLWan.from_pretrained(str(ckpt), subfolder="vae", torch_dtype=dt).to(device).eval()
        if "vae_decoder" in wanted:
            module = W["decoder"](vae, dt, io_dt).eval()
            lat = (torch.randn((1, z, F, H, Wd), generator=gen) * torch.tensor(manifest["vae"]["latentsStd"]).view(1, z, 1, 1, 1) + torch.tensor(manifest["vae"]["latentsMean"]).view(1, z, 1, 1, 1)).to(io_dt)
            with torch.no_grad():
                ref = module(lat.to(device))
            ref_np = to_numpy(ref)
            secs = export_graph(torch, module, (lat.to(device),), ["latent_sample"], "sample", out / "vae_decoder.onnx", args.opset)
            del ref
            check = None if args.no_verify else verify_graph(ref_np, out / "vae_decoder.onnx", {"latent_sample": lat.float().numpy().astype(np_io)}, device)
            record("vae_decoder", "vae_decoder.onnx", secs, check, tol_main)
        if "vae_encoder" in wanted and "encoderFile" in manifest["vae"]:
            module = W["encoder"](vae, dt, io_dt).eval()
            # I2V encodes [image, zeros...] over all frames; TI2V one frame.
            frames_in = facts["frames"] if manifest.get("imageConditioning") == "concat" else 1
            video = (torch.rand((1, 3, frames_in, facts["height"], facts["width"]), generator=gen) * 2 - 1).to(io_dt)
            with torch.no_grad():
                ref = module(video.to(device))
            ref_np = to_numpy(ref)
            secs = export_graph(torch, module, (video.to(device),), ["sample"], "latent", out / "vae_encoder.onnx", args.opset)
            del ref
            check = None if args.no_verify else verify_graph(ref_np, out / "vae_encoder.onnx", {"sample": video.float().numpy().astype(np_io)}, device)
            record("vae_encoder", "vae_encoder.onnx", secs, check, tol_main)
        del vae
        release_memory(torch)

    report["failures"] = failures
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ckpt: Path = args.checkpoint
    out: Path = args.out
    try:
        if not ckpt.is_dir():
            raise ExportError(f"{ckpt} is not a directory")
        manifest, facts = build_manifest(args, ckpt)
        out.mkdir(parents=True, exist_ok=True)
        if (out / "manifest.json").exists() and not args.overwrite:
            raise ExportError(f"{out / 'manifest.json'} exists; pass --overwrite")
        print(f"[export] {facts['variant']} at {facts['width']}x{facts['height']}, {facts['frames']} frames -> {out}", flush=True)
        if args.dry_run:
            write_json(out / "manifest.json", manifest)
            print(f"[export] dry run: wrote {out / 'manifest.json'} only", flush=True)
            return 0
        report = run_export(args, manifest, facts)
        write_json(out / "export_report.json", report)
        # The manifest last: a directory with a manifest is complete.
        write_json(out / "manifest.json", manifest)
        if report["failures"]:
            print("[export] verification FAILED:\n  " + "\n  ".join(report["failures"]), file=sys.stderr)
            return 2
        print(f"[export] done: {out / 'manifest.json'}", flush=True)
        return 0
    except ExportError as e:
        print(f"export-wan-onnx: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
