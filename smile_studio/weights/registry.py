"""Every weight file the app can use: its names, what network it holds (the expected keys and shapes are read
from our own network classes, never typed by hand), what it enables and under which licence.

Files are recognised by content (:func:`recognise`): the official archive's file list was never published, and
users rename files.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .locations import install_dir, search_dirs

OFFICIAL_ARCHIVE_SOURCES = (
    # the URL in the official download_weights.sh
    "https://polybox.ethz.ch/index.php/s/yR74R0XFRXAfUiU/download",
    # the Google Drive mirror the author posted in affromero/SMILE#4
    "https://drive.google.com/uc?export=download&id=1qSREgs8evfJQg8rfTTrn5dniNX1DY-ly",
)
OFFICIAL_LICENCE = "SMILE official weights: research use (CelebA-HQ / CelebAMask-HQ terms), see affromero/SMILE"
HUB = "hub/checkpoints"  # where face-alignment's files go (torch.hub's layout, under our own folder)


def _syn(size: int):
    from ..nets.syn import SynGenerator

    return SynGenerator(size)


def _sem(part: str):
    from ..nets import sem

    return {"G": lambda: sem.SemGenerator(256), "F": sem.MappingNetwork, "S": lambda: sem.StyleEncoder(256)}[part]()


def _fan():
    from ..nets.fan import FAN

    return FAN()


def _bisenet():
    from ..nets.parser import BiSeNet

    return BiSeNet(19)


def _attnet():
    from ..nets.attributes import AttNet

    return AttNet().model  # the official file holds the inner network


def _hopenet():
    from ..nets.pose import HopeNet

    return HopeNet()


def _lpips():
    from ..nets.lpips import lpips_heads

    return lpips_heads()


def _alexnet():
    from ..nets.lpips import AlexNetFeatures

    return AlexNetFeatures()


def _inception():
    from ..nets.inception import FIDInception

    return FIDInception()


def _enhancer(kind: str):
    from ..nets.enhance import RRDBSR, CompactSR

    return {"general_x4": CompactSR, "x4plus": lambda: RRDBSR(4), "x2plus": lambda: RRDBSR(2)}[kind]()


def _s3fd():
    from face_alignment.detection.sfd.net_s3fd import s3fd

    return s3fd()


def _fan68():
    from face_alignment.models import FAN

    return FAN(4)


@dataclass(frozen=True)
class Checkpoint:
    key: str
    filename: str
    network: str
    container: str | tuple[str, ...] | None  # sub-dict(s) holding the state_dict ("g_ema"), or None: a plain one
    builder: Callable = field(repr=False, compare=False, default=None)  # our network class: the expected keys
    enables: str = ""
    licence: str = OFFICIAL_LICENCE
    aliases: tuple[str, ...] = ()  # other names the same file is published under
    subdir: str = ""
    ignore_extra: bool = False  # extra keys in the file are ignored (as the official loader does)
    url: str | None = None  # where it is published on its own (face-alignment's files)
    sha256_prefix: str | None = None  # torch.hub's convention: the file name carries its hash's first digits
    sha256: str | None = None  # the published file's whole sha256, checked after a download
    enhancer: bool = False  # a restoration network that upsamples renders for large photos (Enhance)


CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint("syn256", "smileSYN_256.pth", "SMILE_SYN generator 256", "g_ema", lambda: _syn(256),
               "SMILE rendering (SMILE_SYN) at 256x256"),
    Checkpoint("syn512", "smileSYN_512.pth", "SMILE_SYN generator 512", "g_ema", lambda: _syn(512),
               "SMILE rendering at 512x512 of faces 512 px or larger in their photo (optional)"),
    Checkpoint("sem_G", "smileSEM_G_ema.pth", "SMILE_SEM generator", None, lambda: _sem("G"),
               "SMILE attribute edits (SMILE_SEM)"),
    Checkpoint("sem_F", "smileSEM_F_ema.pth", "SMILE_SEM mapping network", None, lambda: _sem("F"),
               "SMILE latent-guided (seeded) edits"),
    Checkpoint("sem_S", "smileSEM_S_ema.pth", "SMILE_SEM style encoder", None, lambda: _sem("S"),
               "SMILE edits (styles of the source and of references)"),
    Checkpoint("fan", "wing.ckpt", "FAN landmark heatmaps (SMILE_SEM)", "state_dict", _fan,
               "SMILE attribute edits (landmark heatmaps)", ignore_extra=True),
    Checkpoint("bisenet", "segmentation_weights.pth", "BiSeNet face parser", None, _bisenet,
               "parsing your own photos with the official parser",
               aliases=("face_parsing_bisenet.pth", "79999_iter.pth"),
               licence="BiSeNet face parser (face-parsing.PyTorch): MIT; trained on CelebAMask-HQ (research use)"),
    Checkpoint("attnet", "attribute_rgb_male_female_eyeglasses_hair_bangs_earrings_hat.pth",
               "AttNet attribute classifier", "state_dict", _attnet,
               "reading a photo's attributes (and the attribute scores of evaluation)"),
    Checkpoint("hopenet", "hopenet_robust_alpha1.pkl", "HopeNet head pose (evaluation)", None, _hopenet,
               "the pose score of evaluation", licence="deep-head-pose (Nataniel Ruiz): Apache-2.0"),
    Checkpoint("lpips", "lpips_weights.ckpt", "LPIPS linear heads (evaluation)", None, _lpips,
               "the LPIPS diversity score of evaluation", licence="LPIPS heads (StarGAN v2's file): BSD-2-Clause"),
    Checkpoint("alexnet", "alexnet-owt-7be5be79.pth", "AlexNet ImageNet features (LPIPS)", None, _alexnet,
               "the LPIPS scores of evaluation and SYN training's perceptual loss", ignore_extra=True,
               url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", sha256_prefix="7be5be79",
               licence="torchvision AlexNet weights: BSD-3-Clause"),
    Checkpoint("inception", "pt_inception-2015-12-05-6726825d.pth", "FID Inception-v3 (pytorch-fid's port)", None,
               _inception, "the FID scores of evaluation",
               url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth",
               sha256_prefix="6726825d", licence="TensorFlow Inception graph (Apache-2.0), ported by pytorch-fid"),
    Checkpoint("s3fd", "s3fd-619a316812.pth", "S3FD face detector (face-alignment)", None, _s3fd,
               "face detection for your own photos (photo pipeline)", subdir=HUB,
               url="https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth",
               sha256_prefix="619a316812", licence="face-alignment (Adrian Bulat): BSD-3-Clause"),
    Checkpoint("fan68", "2DFAN4-11f355bf06.pth.tar", "2DFAN-4 68-point landmarks (face-alignment)", None, _fan68,
               "68 landmarks for your own photos (photo pipeline)", subdir=HUB,
               url="https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",
               sha256_prefix="11f355bf06", licence="face-alignment (Adrian Bulat): BSD-3-Clause"),
)
REAL_ESRGAN = "https://github.com/xinntao/Real-ESRGAN/releases/download"
# Real-ESRGAN's code and its released models are BSD-3-Clause (commercial use allowed). The digests are of the
# release files, as listed by OpenModelDB and the Arch Linux package of Real-ESRGAN (the release pages give none).
REAL_ESRGAN_LICENCE = "Real-ESRGAN (Xintao Wang et al.): BSD-3-Clause, commercial use allowed"
ENHANCERS: tuple[Checkpoint, ...] = (
    Checkpoint("enhance_general", "realesr-general-x4v3.pth", "Real-ESRGAN general x4 v3 (compact)",
               ("params_ema", "params"), lambda: _enhancer("general_x4"),
               "Enhance: x4 upsampling of renders for large photos, fast (about 1 s on 2 cores)",
               url=f"{REAL_ESRGAN}/v0.2.5.0/realesr-general-x4v3.pth", licence=REAL_ESRGAN_LICENCE,
               sha256="8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292", enhancer=True),
    Checkpoint("enhance_x4plus", "RealESRGAN_x4plus.pth", "Real-ESRGAN x4plus (RRDB)", ("params_ema", "params"),
               lambda: _enhancer("x4plus"), "Enhance: x4 upsampling, sharper and about 10x slower than general",
               url=f"{REAL_ESRGAN}/v0.1.0/RealESRGAN_x4plus.pth", licence=REAL_ESRGAN_LICENCE,
               sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1", enhancer=True),
    Checkpoint("enhance_x2plus", "RealESRGAN_x2plus.pth", "Real-ESRGAN x2plus (RRDB)", ("params_ema", "params"),
               lambda: _enhancer("x2plus"), "Enhance: x2 upsampling, for faces up to twice the render's size",
               url=f"{REAL_ESRGAN}/v0.2.1/RealESRGAN_x2plus.pth", licence=REAL_ESRGAN_LICENCE,
               sha256="49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb", enhancer=True),
)
CHECKPOINTS = CHECKPOINTS + ENHANCERS
ENHANCE_KEYS = tuple(c.key for c in ENHANCERS)
CHECKPOINT_BY_KEY = {c.key: c for c in CHECKPOINTS}
SMILE_KEYS = ("syn256", "sem_G", "sem_F", "sem_S", "fan")  # what the SMILE engines need


@functools.cache
def expected(key: str) -> dict[str, tuple[int, ...]]:
    """{parameter name: shape} of the network a file must hold, from our class (built once, on the CPU)."""
    model = CHECKPOINT_BY_KEY[key].builder()
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def candidates(c: Checkpoint) -> list[Path]:
    """Where ``c`` may be, in search order (every folder, every name)."""
    return [folder / c.subdir / name for folder in search_dirs() for name in (c.filename, *c.aliases)]


def checkpoint_path(key: str) -> Path:
    """The file for ``key``: the first one found, else where it would be installed."""
    c = CHECKPOINT_BY_KEY[key]
    return next((p for p in candidates(c) if p.is_file()), install_dir() / c.subdir / c.filename)


def installed_enhancers() -> list[str]:
    """The keys of the Enhance networks whose files are present (not yet checked; the editor lists them without
    loading torch)."""
    return [k for k in ENHANCE_KEYS if checkpoint_path(k).is_file()]


def installed() -> dict[str, Path]:
    """Files present (by name; see :mod:`.verify` for whether they hold the right network)."""
    found = {c.key: checkpoint_path(c.key) for c in CHECKPOINTS}
    return {k: p for k, p in found.items() if p.is_file()}


def recognise(obj: Mapping) -> list[str]:
    """The registry keys whose network ``obj`` (a loaded checkpoint) holds, by keys and shapes (the same check a
    network's loading makes)."""
    from ..nets.checkpoint import CheckpointError, check_signature, extract_state_dict

    found = []
    for c in CHECKPOINTS:
        try:
            sd = extract_state_dict(obj, c.container, c.filename)
            check_signature(expected(c.key), sd, c.filename, c.ignore_extra)
        except CheckpointError:
            continue
        found.append(c.key)
    return found
