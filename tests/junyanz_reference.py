"""An independent re-statement of pix2pix/CycleGAN's generators (junyanz/pytorch-CycleGAN-and-pix2pix
models/networks.py), layer for layer, with the same state-dict key names: the parity reference for the importer.
Written from the published layout, separately from gantransfer's own translator modules."""
import torch
from torch import nn


def make_norm(kind, c):
    if kind == "batch":
        return nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if kind == "instance":
        return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    return nn.Identity()


class RefResnetBlock(nn.Module):
    def __init__(self, dim, kind, use_dropout):
        super().__init__()
        b = kind == "instance"
        seq = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=b), make_norm(kind, dim),
               nn.ReLU(True)]
        seq += [nn.Dropout(0.5)] if use_dropout else []
        seq += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=b), make_norm(kind, dim)]
        self.conv_block = nn.Sequential(*seq)

    def forward(self, x):
        return x + self.conv_block(x)


class RefResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf, kind, use_dropout, n_blocks):
        super().__init__()
        b = kind == "instance"
        seq = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=b),
               make_norm(kind, ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            seq += [nn.Conv2d(ngf * m, ngf * m * 2, kernel_size=3, stride=2, padding=1, bias=b),
                    make_norm(kind, ngf * m * 2), nn.ReLU(True)]
        seq += [RefResnetBlock(ngf * 4, kind, use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            seq += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, kernel_size=3, stride=2, padding=1, output_padding=1,
                                       bias=b), make_norm(kind, ngf * m // 2), nn.ReLU(True)]
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class RefUnetBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 kind="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        b = kind == "instance"
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=b)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            seq = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=b)
            seq = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, make_norm(kind, outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=b)
            seq = [nn.LeakyReLU(0.2, True), downconv, make_norm(kind, inner_nc), submodule, nn.ReLU(True), upconv,
                   make_norm(kind, outer_nc)] + ([nn.Dropout(0.5)] if use_dropout else [])
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class RefUnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf, kind, use_dropout=False):
        super().__init__()
        blk = RefUnetBlock(ngf * 8, ngf * 8, innermost=True, kind=kind)
        for _ in range(num_downs - 5):
            blk = RefUnetBlock(ngf * 8, ngf * 8, submodule=blk, kind=kind, use_dropout=use_dropout)
        blk = RefUnetBlock(ngf * 4, ngf * 8, submodule=blk, kind=kind)
        blk = RefUnetBlock(ngf * 2, ngf * 4, submodule=blk, kind=kind)
        blk = RefUnetBlock(ngf, ngf * 2, submodule=blk, kind=kind)
        self.model = RefUnetBlock(output_nc, ngf, input_nc=input_nc, submodule=blk, outermost=True, kind=kind)

    def forward(self, x):
        return self.model(x)


def randomise(net, seed=0):
    """Every parameter and batch-norm statistic set to seeded random values (positive variances)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(net.named_parameters()) + list(net.named_buffers()):
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif t.dim() > 1:  # convolutions: He-scaled
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / t[0].numel()) ** 0.5)
            elif name.endswith("weight"):  # norm scales around 1
                t.copy_(1 + 0.2 * torch.randn(t.shape, generator=g))
            else:
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
    return net.eval()
