"""Reference outputs of MedicalNet's (Tencent/MedicalNet, med3d/models/resnet.py)
dilated 3-D ResNet for cnn's tests: narrow widths so the files stay small.

Run: /usr/bin/python3 gen_medicalnet.py   (torch 1.13, CPU)
Writes medicalnet_<name>.pth (legacy torch.save format, {"state_dict": {"module.…"}}
as the released weights), medicalnet_<name>.input.npy and .embed.npy (layer4 output,
global average pooled). The network below is MedicalNet's, with the widths 64…512
replaced by a parameter and the segmentation head left out (the released weights have none).
"""
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from functools import partial

def conv3x3x3(i, o, stride=1, dilation=1):
    return nn.Conv3d(i, o, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)

def downsample_basic_block(x, planes, stride):
    out = F.avg_pool3d(x, kernel_size=1, stride=stride)
    z = torch.zeros(out.size(0), planes - out.size(1), *out.shape[2:])
    return torch.cat([out.data, z], 1)

class BasicBlock(nn.Module):
    expansion = 1
    def __init__(s, i, p, stride=1, dilation=1, downsample=None):
        super().__init__()
        s.conv1 = conv3x3x3(i, p, stride, dilation); s.bn1 = nn.BatchNorm3d(p)
        s.conv2 = conv3x3x3(p, p, dilation=dilation); s.bn2 = nn.BatchNorm3d(p); s.downsample = downsample
    def forward(s, x):
        r = x if s.downsample is None else s.downsample(x)
        return F.relu(s.bn2(s.conv2(F.relu(s.bn1(s.conv1(x))))) + r)

class Bottleneck(nn.Module):
    expansion = 4
    def __init__(s, i, p, stride=1, dilation=1, downsample=None):
        super().__init__()
        s.conv1 = nn.Conv3d(i, p, 1, bias=False); s.bn1 = nn.BatchNorm3d(p)
        s.conv2 = nn.Conv3d(p, p, 3, stride=stride, dilation=dilation, padding=dilation, bias=False); s.bn2 = nn.BatchNorm3d(p)
        s.conv3 = nn.Conv3d(p, p * 4, 1, bias=False); s.bn3 = nn.BatchNorm3d(p * 4); s.downsample = downsample
    def forward(s, x):
        r = x if s.downsample is None else s.downsample(x)
        y = F.relu(s.bn1(s.conv1(x))); y = F.relu(s.bn2(s.conv2(y)))
        return F.relu(s.bn3(s.conv3(y)) + r)

class MedNet(nn.Module):
    def __init__(s, block, layers, widths, shortcut):
        super().__init__()
        s.inplanes = widths[0]
        s.conv1 = nn.Conv3d(1, widths[0], 7, stride=2, padding=3, bias=False); s.bn1 = nn.BatchNorm3d(widths[0])
        s.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        s.layer1 = s._make(block, widths[0], layers[0], shortcut)
        s.layer2 = s._make(block, widths[1], layers[1], shortcut, stride=2)
        s.layer3 = s._make(block, widths[2], layers[2], shortcut, stride=1, dilation=2)
        s.layer4 = s._make(block, widths[3], layers[3], shortcut, stride=1, dilation=4)
    def _make(s, block, planes, blocks, shortcut, stride=1, dilation=1):
        down = None
        if stride != 1 or s.inplanes != planes * block.expansion:
            if shortcut == 'A':
                down = partial(downsample_basic_block, planes=planes * block.expansion, stride=stride)
            else:
                down = nn.Sequential(nn.Conv3d(s.inplanes, planes * block.expansion, 1, stride=stride, bias=False), nn.BatchNorm3d(planes * block.expansion))
        L = [block(s.inplanes, planes, stride, dilation, down)]
        s.inplanes = planes * block.expansion
        L += [block(s.inplanes, planes, dilation=dilation) for _ in range(1, blocks)]
        return nn.Sequential(*L)
    def forward(s, x):
        x = s.maxpool(F.relu(s.bn1(s.conv1(x))))
        x = s.layer4(s.layer3(s.layer2(s.layer1(x))))
        return F.adaptive_avg_pool3d(x, 1).flatten(1)

torch.manual_seed(7)
for name, (block, layers, widths, sc) in {"a": (BasicBlock, [2, 1, 1, 1], [8, 16, 32, 64], 'A'),
                                          "b": (Bottleneck, [1, 2, 1, 1], [4, 8, 12, 16], 'B')}.items():
    m = MedNet(block, layers, widths, sc)
    for mod in m.modules():
        if isinstance(mod, nn.Conv3d):
            nn.init.normal_(mod.weight, 0, (1 / (mod.weight[0].numel())) ** 0.5)
        if isinstance(mod, nn.BatchNorm3d):
            nn.init.normal_(mod.running_mean, 0, 0.1); nn.init.uniform_(mod.running_var, 0.75, 1.25)
            nn.init.normal_(mod.weight, 1, 0.1); nn.init.normal_(mod.bias, 0, 0.1)
    m.eval()
    x = torch.randn(2, 1, 24, 24, 24)
    with torch.no_grad():
        y = m(x)
    sd = {"module." + k: v for k, v in m.state_dict().items()}
    torch.save({"state_dict": sd, "epoch": 1}, f"medicalnet_{name}.pth", _use_new_zipfile_serialization=False)
    np.save(f"medicalnet_{name}.input.npy", x.numpy()); np.save(f"medicalnet_{name}.embed.npy", y.numpy())
    print(name, y.shape, float(y.abs().max()))
