"""The torchvision architectures, written from their papers in torchvision's layout (same blocks,
widths and parameter counts at 1000 classes): torchvision 0.28.0, the release for torch 2.13.0, is on
PyPI only as a CUDA build whose C extension needs libtorch_cuda, so `import torchvision` fails
against this project's torch==2.13.0+cpu (and breaks `transformers`, which imports it when present).

MobileNetV2 (Sandler et al. 2018), MobileNetV3-Small (Howard et al. 2019), ResNet-18 (He et al.
2016), SqueezeNet 1.1 (Iandola et al. 2016, v1.1 from the reference repo), ShuffleNetV2 x0.5 (Ma et
al. 2018), EfficientNet-B0 (Tan & Le 2019) and ViT (Dosovitskiy et al. 2021).
"""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Sequential):
    """nn.Sequential whose forward argument is named `x` (torch.export names the input after it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self:
            x = module(x)
        return x


def _div(v: float, d: int = 8) -> int:
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def cbn(cin: int, cout: int, k: int = 3, s: int = 1, groups: int = 1, act: type | None = nn.ReLU6) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    def __init__(self, c: int, squeeze: int, act: type = nn.ReLU, gate: type = nn.Hardsigmoid) -> None:
        super().__init__()
        self.fc1, self.fc2, self.act, self.gate = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1), act(), gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class InvertedResidual(nn.Module):
    """MBConv: [1x1 expand] -> kxk depthwise -> [SE] -> 1x1 project, residual when shapes match."""

    def __init__(self, cin: int, exp: int, cout: int, k: int, s: int, act: type, se: int = 0, se_gate: type = nn.Hardsigmoid) -> None:
        super().__init__()
        layers: list[nn.Module] = [] if exp == cin else [cbn(cin, exp, 1, act=act)]
        layers.append(cbn(exp, exp, k, s, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, se, nn.SiLU if se_gate is nn.Sigmoid else nn.ReLU, se_gate))
        layers.append(cbn(exp, cout, 1, act=None))
        self.block, self.residual = nn.Sequential(*layers), s == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_v2(num_classes: int) -> nn.Module:
    layers: list[nn.Module] = [cbn(3, 32, 3, 2)]
    cin = 32
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            layers.append(InvertedResidual(cin, cin * t, c, 3, s if i == 0 else 1, nn.ReLU6))
            cin = c
    layers += [cbn(cin, 1280, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(1280, num_classes)]
    return Net(*layers)


def mobilenet_v3_small(num_classes: int) -> nn.Module:
    RE, HS = nn.ReLU, nn.Hardswish
    cfg = ((3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2), (3, 88, 24, False, RE, 1), (5, 96, 40, True, HS, 2),
           (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1), (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1),
           (5, 288, 96, True, HS, 2), (5, 576, 96, True, HS, 1), (5, 576, 96, True, HS, 1))
    layers: list[nn.Module] = [cbn(3, 16, 3, 2, act=HS)]
    cin = 16
    for k, exp, c, se, act, s in cfg:
        layers.append(InvertedResidual(cin, exp, c, k, s, act, _div(exp // 4) if se else 0))
        cin = c
    layers += [cbn(cin, 576, 1, act=HS), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(576, 1024), HS(), nn.Dropout(0.2), nn.Linear(1024, num_classes)]
    return Net(*layers)


def efficientnet_b0(num_classes: int) -> nn.Module:
    layers: list[nn.Module] = [cbn(3, 32, 3, 2, act=nn.SiLU)]
    for e, k, s, cin, cout, n in ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                                  (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)):
        for i in range(n):
            c = cin if i == 0 else cout
            layers.append(InvertedResidual(c, c * e, cout, k, s if i == 0 else 1, nn.SiLU, max(1, c // 4), nn.Sigmoid))
    layers += [cbn(320, 1280, 1, act=nn.SiLU), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
               nn.Linear(1280, num_classes)]
    return Net(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, s: int) -> None:
        super().__init__()
        self.body = nn.Sequential(cbn(cin, cout, 3, s, act=nn.ReLU), cbn(cout, cout, 3, act=None))
        self.down = cbn(cin, cout, 1, s, act=None) if s != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.down(x))


def resnet18(num_classes: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for c, s in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, c, s), BasicBlock(c, c, 1)]
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return Net(*layers)


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze, self.e1, self.e3 = nn.Conv2d(cin, squeeze, 1), nn.Conv2d(squeeze, e1, 1), nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.e1(x)), torch.relu(self.e3(x))], 1)


def squeezenet1_1(num_classes: int) -> nn.Module:
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    net = Net(
        nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
        Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )
    for m in net.modules():  # torchvision's init: the classifier conv near zero, kaiming elsewhere
        if isinstance(m, nn.Conv2d):
            if m.out_channels == num_classes and m.kernel_size == (1, 1):
                nn.init.normal_(m.weight, 0.0, 0.01)
            else:
                nn.init.kaiming_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


class ShuffleUnit(nn.Module):
    def __init__(self, cin: int, cout: int, s: int) -> None:
        super().__init__()
        b = cout // 2
        self.s = s
        if s > 1:
            self.left = nn.Sequential(cbn(cin, cin, 3, s, groups=cin, act=None), cbn(cin, b, 1, act=nn.ReLU))
        self.right = nn.Sequential(cbn(cin if s > 1 else b, b, 1, act=nn.ReLU), cbn(b, b, 3, s, groups=b, act=None),
                                   cbn(b, b, 1, act=nn.ReLU))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.s == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat((a, self.right(b)), 1)
        else:
            out = torch.cat((self.left(x), self.right(x)), 1)
        n, c, h, w = out.shape
        return out.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)  # channel shuffle, 2 groups


def shufflenet_v2_x0_5(num_classes: int) -> nn.Module:
    layers: list[nn.Module] = [cbn(3, 24, 3, 2, act=nn.ReLU), nn.MaxPool2d(3, 2, 1)]
    cin = 24
    for reps, c in ((4, 48), (8, 96), (4, 192)):
        layers += [ShuffleUnit(cin, c, 2)] + [ShuffleUnit(c, c, 1) for _ in range(reps - 1)]
        cin = c
    layers += [cbn(cin, 1024, 1, act=nn.ReLU), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, num_classes)]
    return Net(*layers)


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(dim, eps=1e-6), nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """torchvision's VisionTransformer layout: conv patch embedding, class token, learned positions,
    pre-norm encoder blocks, final LayerNorm, linear head on the class token."""

    def __init__(self, image_size: int, patch: int, layers: int, heads: int, dim: int, mlp: int, num_classes: int) -> None:
        super().__init__()
        n = (image_size // patch) ** 2
        self.conv_proj = nn.Conv2d(3, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.ln(self.blocks(x))[:, 0])
