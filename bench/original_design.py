"""The original project's per-photo work (full decode, VGG16, YOLOv3-size @416), for benchmarks."""

from __future__ import annotations

import time
from typing import Any


def yolov3_like():  # type: ignore[no-untyped-def]
    """A Darknet-53 backbone with YOLOv3's three heads (random weights): the original design's
    detector size (~66 GFLOPs at 416 px); speed does not depend on the weights."""
    from torch import nn

    def conv(ci: int, co: int, k: int, s: int = 1) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(ci, co, k, s, k // 2, bias=False), nn.BatchNorm2d(co), nn.LeakyReLU(0.1)
        )

    class Res(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.f = nn.Sequential(conv(c, c // 2, 1), conv(c // 2, c, 3))

        def forward(self, x):  # type: ignore[no-untyped-def]
            return x + self.f(x)

    def stage(ci: int, co: int, n: int) -> nn.Module:
        return nn.Sequential(conv(ci, co, 3, 2), *[Res(co) for _ in range(n)])

    def head(ci: int, c: int) -> nn.Module:
        return nn.Sequential(
            conv(ci, c, 1),
            conv(c, 2 * c, 3),
            conv(2 * c, c, 1),
            conv(c, 2 * c, 3),
            conv(2 * c, c, 1),
        )

    class YoloV3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.s3 = nn.Sequential(
                conv(3, 32, 3), stage(32, 64, 1), stage(64, 128, 2), stage(128, 256, 8)
            )
            self.s4, self.s5 = stage(256, 512, 8), stage(512, 1024, 4)
            self.h5, self.h4, self.h3 = head(1024, 512), head(768, 256), head(384, 128)
            self.o5, self.o4, self.o3 = (
                nn.Sequential(conv(c, 2 * c, 3), nn.Conv2d(2 * c, 255, 1)) for c in (512, 256, 128)
            )
            self.u5, self.u4 = conv(512, 256, 1), conv(256, 128, 1)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, x):  # type: ignore[no-untyped-def]
            import torch

            c3 = self.s3(x)
            c4 = self.s4(c3)
            c5 = self.s5(c4)
            p5 = self.h5(c5)
            p4 = self.h4(torch.cat([self.up(self.u5(p5)), c4], 1))
            p3 = self.h3(torch.cat([self.up(self.u4(p4)), c3], 1))
            return self.o5(p5), self.o4(p4), self.o3(p3)

    return YoloV3().eval()


class OriginalDesign:
    """Models built once (random weights: speed does not depend on them); called with a photo
    path, returns the seconds of each stage and their total."""

    STAGES = ("decode", "thumbnail", "vgg16", "yolov3")

    def __init__(self) -> None:
        import torch
        import torchvision

        torch.set_num_threads(1)
        self.vgg = torchvision.models.vgg16(weights=None).eval()
        self.yolo = yolov3_like()
        self.tf = torchvision.models.VGG16_Weights.IMAGENET1K_V1.transforms()

    def __call__(self, path: str) -> dict[str, float]:
        import torch
        from PIL import Image, ImageOps
        from torchvision.transforms.functional import to_tensor

        with torch.inference_mode():
            t0 = time.perf_counter()
            img: Any = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
            t1 = time.perf_counter()
            img.copy().thumbnail((400, 400), Image.Resampling.LANCZOS)
            t2 = time.perf_counter()
            self.vgg(self.tf(img).unsqueeze(0))
            t3 = time.perf_counter()
            self.yolo(to_tensor(img.resize((416, 416))).unsqueeze(0))
            t4 = time.perf_counter()
        return {
            "decode": t1 - t0,
            "thumbnail": t2 - t1,
            "vgg16": t3 - t2,
            "yolov3": t4 - t3,
            "total": t4 - t0,
        }
