"""Model registry: resolve configured stages to weights files (LabelerSpec) and load labelers."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from pipelines.labelers.base import Labeler, LabelerSpec, WeightsMissing

STAGES = ("imagenet", "coco")
BACKENDS = ("imagenet", "yolo", "tvdetect")
DEFAULT_IMAGENET_MODEL = "mobilenet_v3_large"
DEFAULT_DETECTOR = "fasterrcnn_mobilenet_v3_large_fpn"
DOWNLOAD_TIMEOUT = 5.0  # seconds per socket operation: fail fast when offline
YOLO_GLOB = "yolo*.onnx"
# What every labelling stage imports: the `index` extra of the package (pip install 'atw[index]').
LABELLING_STACK = ("torch", "torchvision", "onnxruntime", "onnx")

_HASHES: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class _Known:
    """One torchvision weights enum member: its name, file name, URL and sha256 prefix."""

    member: str
    filename: str
    url: str
    hash_prefix: str


def resolve(stages: Sequence[str], config: Mapping[str, Any]) -> list[LabelerSpec]:
    """One LabelerSpec per stage, or WeightsMissing saying which file to put where (or which
    packages to install, when the labelling stack is not installed)."""
    missing = [m for m in LABELLING_STACK if importlib.util.find_spec(m) is None]
    if stages and missing:
        raise WeightsMissing(
            f"labelling ({', '.join(stages)}) needs {', '.join(missing)}, not installed here: "
            "pip install 'atw[index]' (the labelling stack), or index metadata and thumbnails "
            "only with --no-labels (LABELERS='')"
        )
    specs = []
    for stage in stages:
        if stage == "imagenet":
            specs.append(_resolve_imagenet(config))
        elif stage == "coco":
            specs.append(_resolve_coco(config))
        else:
            raise ValueError(f"unknown labelling stage {stage!r} (known: {', '.join(STAGES)})")
    return specs


def load(spec: LabelerSpec) -> Labeler:
    """Load the labeler a spec names (imports its backend, and so torch/onnxruntime, only now)."""
    if spec.backend not in BACKENDS:
        raise ValueError(f"unknown labeler backend {spec.backend!r}")
    module = importlib.import_module(f"pipelines.labelers.{spec.backend}")
    return module.load(spec)


def sha256(path: Path) -> str:
    """The file's sha256 in hex, cached by (path, size, mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def weights_id(path: Path) -> str:
    """First 12 hex digits of the file's sha256: stored with every label row."""
    return sha256(path)[:12]


def _get(config: Mapping[str, Any], key: str, default: str = "") -> str:
    value = config.get(key)
    return str(value).strip() if value not in (None, "") else default


def _models_dir(config: Mapping[str, Any]) -> Path | None:
    value = _get(config, "MODELS_DIR")
    return Path(value).expanduser().resolve() if value else None


def _explicit(config: Mapping[str, Any], key: str) -> Path | None:
    """The configured file, or None when unset; a configured but missing file is an error."""
    value = _get(config, key)
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise WeightsMissing(f"{key} (or ATW_{key}) names {path}, which is not a file.")
    return path


def _hub_checkpoints() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _known_weights(name: str, detection: bool) -> list[_Known]:
    """torchvision's weights for a model, DEFAULT first; ValueError for an unknown model."""
    import torchvision.models as tvm

    module = tvm.detection if detection else tvm
    names = tvm.list_models(module=module)
    if name not in names:
        kind = "COCO detection" if detection else "classification"
        raise ValueError(f"unknown torchvision {kind} model {name!r}; known: {', '.join(names)}")
    enum = tvm.get_model_weights(name)
    members = [enum.DEFAULT, *(m for m in enum if m is not enum.DEFAULT)]
    out = []
    for m in members:
        if not m.url or not m.meta.get("categories"):
            continue  # e.g. vgg16's IMAGENET1K_FEATURES: no classifier head
        filename = m.url.rsplit("/", 1)[-1]
        stem = filename.rsplit(".", 1)[0]
        prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
        out.append(_Known(m.name, filename, m.url, prefix))
    if not out:  # the class names come from the weights' meta
        raise ValueError(f"torchvision has no pretrained weights (class names) for {name!r}")
    return out


def _download(url: str, dst: Path, hash_prefix: str) -> None:
    """torchvision's own download into its cache; monkeypatched in tests."""
    import torch.hub

    dst.parent.mkdir(parents=True, exist_ok=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        torch.hub.download_url_to_file(
            url, str(dst), hash_prefix or None, progress=sys.stderr.isatty()
        )
    finally:
        socket.setdefaulttimeout(old)


def _find_torchvision(
    name: str, known: list[_Known], explicit: Path | None, models_dir: Path | None
) -> tuple[Path, str, _Known | None, list[str]]:
    """(file, weights_id, matching enum member or None, places looked); raises FileNotFoundError
    with the places looked and the download error in args when nothing is found."""
    looked: list[str] = []
    if explicit is not None:
        return explicit, *_identify(explicit, known), looked
    if models_dir is not None:
        for filename in [*(k.filename for k in known), f"{name}.pth"]:
            path = models_dir / filename
            looked.append(str(path))
            if path.is_file():
                return path, *_identify(path, known), looked
    cache = _hub_checkpoints()
    for k in known:
        path = cache / k.filename
        looked.append(str(path))
        if path.is_file():
            return path, path.stem, k, looked
    dst = cache / known[0].filename
    try:
        _download(known[0].url, dst, known[0].hash_prefix)
    except Exception as exc:  # offline, DNS, HTTP error, hash mismatch: all mean "not found"
        raise FileNotFoundError(looked, f"{type(exc).__name__}: {exc}") from exc
    return dst, dst.stem, known[0], looked


def _identify(path: Path, known: list[_Known]) -> tuple[str, _Known | None]:
    """weights_id of a local file and the torchvision enum member it is a copy of, if any."""
    digest = sha256(path)
    match = next((k for k in known if k.hash_prefix and digest.startswith(k.hash_prefix)), None)
    return digest[:12], match


def _missing_message(
    what: str, alternative: str, known: list[_Known], models_dir: Path | None, err: Any
) -> str:
    looked, reason = err.args if len(err.args) == 2 else ([], str(err))
    folder = str(models_dir) if models_dir else "the models folder (set ATW_MODELS_DIR)"
    lines = [f"No weights for {what}."]
    lines.append(f"Put the file {known[0].filename} into {folder}/")
    lines.append(f"  (download it from {known[0].url}),")
    lines.append(alternative)
    if looked:
        lines.append("Looked in: " + ", ".join(looked))
    lines.append(f"Automatic download failed: {reason}")
    return "\n".join(lines)


def _resolve_imagenet(config: Mapping[str, Any]) -> LabelerSpec:
    name = _get(config, "IMAGENET_MODEL", DEFAULT_IMAGENET_MODEL)
    known = _known_weights(name, detection=False)
    explicit = _explicit(config, "IMAGENET_WEIGHTS")
    models_dir = _models_dir(config)
    try:
        path, wid, match, _ = _find_torchvision(name, known, explicit, models_dir)
    except FileNotFoundError as err:
        what = f"the ImageNet classifier {name!r} (IMAGENET_MODEL)"
        alt = "or set IMAGENET_WEIGHTS / ATW_IMAGENET_WEIGHTS=/path/to/a/state_dict.pth."
        raise WeightsMissing(_missing_message(what, alt, known, models_dir, err)) from None
    # A copy of a torchvision file uses that file's own preprocessing; any other state dict the
    # configured IMAGENET_TRANSFORMS, else the classic recipe IMAGENET1K_V1 (resize 256, crop 224
    # for most models: what ../shared/DATA.md prescribes for the shared MobileNetV2), else DEFAULT.
    members = [k.member for k in known]
    transforms = match.member if match else _get(config, "IMAGENET_TRANSFORMS")
    if not transforms:
        transforms = "IMAGENET1K_V1" if "IMAGENET1K_V1" in members else members[0]
    if transforms not in members:
        raise ValueError(f"IMAGENET_TRANSFORMS={transforms!r}: {name} has {', '.join(members)}")
    runtime = _get(config, "IMAGENET_RUNTIME", "auto").lower()
    if runtime not in ("auto", "onnx", "eager", "openvino"):
        raise ValueError(f"IMAGENET_RUNTIME must be auto, onnx, eager or openvino, not {runtime!r}")
    device = _device(config)
    if device != "cpu":  # PyTorch on the GPU: eager (the ONNX copy has the same id)
        if runtime not in ("auto", "eager"):
            raise ValueError(
                f"IMAGENET_RUNTIME={runtime} runs on the CPU: with LABEL_DEVICE={device} use "
                "auto or eager"
            )
        runtime = "eager"
    options: dict[str, Any] = {"transforms": transforms, "runtime": runtime, "device": device}
    if runtime == "openvino":  # bf16 scores differ from float ones: a new id, so a relabel
        from pipelines.labelers.openvino_cpu import openvino_available, openvino_precision

        if not openvino_available():
            raise ValueError("IMAGENET_RUNTIME=openvino needs the openvino package")
        options["precision"] = openvino_precision()
        wid = f"{wid}+ov-{options['precision']}"
    from pipelines.labelers.imagenet import crop_preprocessing

    options["crop"] = crop_preprocessing(name, transforms)
    if options["crop"]:  # the region-only resize: (slightly) other pixels, so its own id
        wid = f"{wid}+crop"
    if models_dir is not None:
        options["cache_dir"] = str(models_dir / "cache")
    return LabelerSpec("imagenet", "imagenet", name, wid, str(path), options)


def _find_yolo(config: Mapping[str, Any], models_dir: Path | None) -> Path | None:
    explicit = _explicit(config, "YOLO_MODEL")
    if explicit is not None:
        return explicit
    if models_dir is None or not models_dir.is_dir():
        return None
    found = sorted(
        p for p in models_dir.iterdir() if p.is_file() and fnmatch(p.name.lower(), YOLO_GLOB)
    )
    return found[0] if found else None


def _resolve_coco(config: Mapping[str, Any]) -> LabelerSpec:
    models_dir = _models_dir(config)
    yolo = _find_yolo(config, models_dir)
    if yolo is not None:
        return _yolo_spec(yolo, config, models_dir)
    name = _get(config, "DETECTOR_FALLBACK", DEFAULT_DETECTOR)
    known = _known_weights(name, detection=True)
    try:
        path, wid, match, _ = _find_torchvision(name, known, None, models_dir)
    except FileNotFoundError as err:
        folder = str(models_dir) if models_dir else "the models folder (set ATW_MODELS_DIR)"
        yolo_hint = (
            f"No YOLO detector: put a YOLO model exported to ONNX (e.g. yolo11n.onnx) into "
            f"{folder}/ under a name matching {YOLO_GLOB}, or set YOLO_MODEL / "
            f"ATW_YOLO_MODEL=/path/to/model.onnx.\nOtherwise, for the torchvision fallback:\n"
        )
        what = f"the torchvision COCO detector {name!r} (DETECTOR_FALLBACK)"
        alt = f"or put a state dict for it there as {name}.pth."
        msg = _missing_message(what, alt, known, models_dir, err)
        raise WeightsMissing(yolo_hint + msg) from None
    member = match.member if match else known[0].member
    options = {"weights": member, "device": _device(config)}
    return LabelerSpec("coco", "tvdetect", name, wid, str(path), options)


def _yolo_spec(path: Path, config: Mapping[str, Any], models_dir: Path | None) -> LabelerSpec:
    """The YOLO file with its runtime decided: YOLO_RUNTIME (auto: yolo_engines.auto_runtime),
    YOLO_RECT and YOLO_RESIZE. All go into the weights id stored with every box, so changing
    one relabels: file sha256[:12], then +runtime (+precision or calibrated graph's digest),
    then +rectpad, then +lin."""
    from pipelines.labelers import yolo, yolo_engines

    runtime = _get(config, "YOLO_RUNTIME", "auto").lower()
    if runtime not in yolo_engines.RUNTIMES:
        raise ValueError(
            f"YOLO_RUNTIME must be one of {', '.join(yolo_engines.RUNTIMES)}, not {runtime!r}"
        )
    device = _device(config)
    if device != "cpu" and runtime in ("openvino", "qdq", "int8"):
        raise ValueError(
            f"YOLO_RUNTIME={runtime} runs on the CPU: with LABEL_DEVICE={device} use auto, fp32 "
            "or file"
        )
    auto = runtime == "auto"
    if auto:  # on a GPU: the float graph (the id of a CPU run of fp32)
        runtime = yolo_engines.auto_runtime() if device == "cpu" else "fp32"
    rect = _flag(config, "YOLO_RECT", True) and runtime != "file"
    resize = _get(config, "YOLO_RESIZE", "linear").lower() if runtime != "file" else "antialias"
    if resize not in yolo.RESIZES:
        raise ValueError(f"YOLO_RESIZE must be one of {', '.join(yolo.RESIZES)}, not {resize!r}")
    if resize == "linear" and importlib.util.find_spec("cv2") is None:
        raise ValueError(
            "YOLO_RESIZE=linear needs OpenCV: pip install opencv-python-headless "
            "(or set YOLO_RESIZE=antialias)"
        )
    options: dict[str, Any] = {"runtime": runtime, "rect": rect, "resize": resize}
    options["device"] = device  # not in the id: a float graph gives the same boxes on either
    wid = weights_id(path)
    if runtime in ("openvino", "int8"):
        if not yolo_engines.openvino_available():
            raise ValueError(
                f"YOLO_RUNTIME={runtime} needs the openvino package (pip install openvino)"
            )
        options["precision"] = yolo_engines.openvino_precision()
        tag = f"ov-{options['precision']}"
    if runtime in ("qdq", "int8"):
        if runtime == "int8" and not yolo_engines.nncf_available():
            raise ValueError("YOLO_RUNTIME=int8 needs the nncf package (pip install nncf)")
        calibration = _get(config, "YOLO_CALIBRATION") or str(yolo_engines.CALIBRATION_DIR)
        options["calibration"] = calibration
        cache = str(models_dir / "cache") if models_dir is not None else None
        try:
            options["qdq_path"], digest = yolo_engines.static_graph(
                runtime, path, calibration, cache, wid, yolo.letterbox
            )
        except Exception as exc:  # auto's int8 of a graph it cannot quantise: the float one
            if not auto or _get(config, "YOLO_CALIBRATION"):  # asked for: say what went wrong
                raise
            import logging

            logging.getLogger(__name__).warning("%s: float graph (no int8: %s)", path.name, exc)
            options["runtime"] = runtime = "openvino"
            options.pop("calibration")
        else:
            tag = f"{tag}-int8-{digest}" if runtime == "int8" else f"qdq-{digest}"
    if runtime in ("file", "fp32"):
        tag = runtime
    if runtime != "file":
        # "+rectpad": rectangular inputs with a half-stride border (yolo.rect_size); the
        # tightest rectangles of an earlier version were "+rect"
        # "+lin": scaled in by OpenCV's INTER_LINEAR (YOLO_RESIZE), not Pillow's bilinear
        wid = f"{wid}+{tag}{'+rectpad' if rect else ''}{'+lin' if resize == 'linear' else ''}"
    return LabelerSpec("coco", "yolo", path.stem, wid, str(path), options)


def _device(config: Mapping[str, Any]) -> str:
    """LABEL_DEVICE: where the labellers run (checked where they load: a Ray driver may have
    no GPU while its actors do)."""
    from pipelines.labelers.base import DEVICES

    device = _get(config, "LABEL_DEVICE", "cpu").lower()
    if device not in DEVICES:
        raise ValueError(f"LABEL_DEVICE must be one of {', '.join(DEVICES)}, not {device!r}")
    return device


def _flag(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)
