# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (ch9-interpret)
#     language: python
#     name: ch9-interpret
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 9.1 CNN各网络层输出的可视化
#
# 教材第 9 章“面向解释的深度神经网络可视化方法”第 1 节，例 9.1（教材的模型是 VGG16，代码里是 `vgg16_bn`）。
#
# **学习目标**
#
# 1. 说清楚为什么要解释“黑盒模型”（black-box model），区分本身可解释性（intrinsic interpretability）与事后可解释性（post-hoc interpretability）；
# 2. 理解卷积层的输入、输出特征图（feature map）和通道（channel）之间的关系；
# 3. 按例 9.1 把预训练的卷积神经网络（Convolutional Neural Network, CNN）“拆开再组装”，逐层前向并打印每层输出的形状；
# 4. 运行教材的 `showImg`，看懂教材的“调色板”（图 9-3 至图 9-6 的颜色为什么和 `jet` 对不上），把任意一层的任意通道画成热力图（heat map），
#    再上采样叠加到原图上；按明确的标准挑通道，并与教材的通道号并排比较；
# 5. 用前向钩子（forward hook）一次前向就拿到所有层的输出（9.2 节的预习）；
# 6. 用数字而不只用眼睛读图：每层有多少通道“什么也没提取到”，特征图的尺寸和通道数怎样随深度变化。

# %% slideshow={"slide_type": "skip"}
import os
import sys
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

import helpers  # before torchvision: helpers imports it without torch._dynamo (helpers/models/tv.py)
from PIL import Image, ImageOps
from torch import nn
from torchvision import transforms
from torchvision.transforms.functional import to_pil_image

from helpers import exercises, hooks, images, load_image, load_model, widgets
from helpers.draw import viz
from helpers.arrays import agreement, minmax
from helpers.exercises import concepts

helpers.setup()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 为什么要“打开黑盒”
#
# 深度神经网络的判断往往很准，但我们说不清它**为什么**这样判断：输入进去、结果出来，中间几百万个参数做了什么看不见，这就是所谓的**黑盒模型**。
# 在医疗、金融、自动驾驶这类场合，“说不清为什么”本身就是风险：模型可能抓住了错误的线索（例如靠背景里的雪地识别“狼”），而准确率数字看不出来。
#
# 教材把可解释性研究分为两种：
#
# - **本身可解释性**（intrinsic interpretability）：构造本身可解释的模型，例如线性模型、决策树，看权重或规则就知道它怎样做决定；
#   教材指出，它对模型结构要求很高，可能要改结构，容易导致模型性能下降；
# - **事后可解释性**（post-hoc interpretability）：对训练好的模型事后构造解释，例如把中间层的输出画出来（本节）、画类激活图（9.2 节）、
#   看注意力权重（9.3 节）；教材指出，它容易产生额外的误差（解释本身可能不准）。
#
# 本章讲的都是事后可解释性方法。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 卷积层的输入与输出特征图
#
# 一个卷积层的输入有 $n$ 个通道（例如彩色图片有 R、G、B 三个通道），层里有 $m$ 个卷积核（kernel），**每个卷积核的形状是 $n \times k \times k$**：
# 它同时覆盖全部 $n$ 个输入通道，卷积后得到**一张**二维图。$m$ 个卷积核就得到 $m$ 张图，叠在一起就是有 $m$ 个通道的输出特征图。
# 所以“输出的第 $j$ 个通道”就是“第 $j$ 个卷积核提取到的特征”，把它画出来，就能看到这个卷积核对图片哪些位置有反应。
#
# 池化层（pooling layer）对每个通道分别取最大值或平均值：**通道数不变，尺寸变小**。

# %% slideshow={"slide_type": "-"}
x_demo = torch.randn(1, 3, 32, 32)  # (N, n=3, H, W)
conv = nn.Conv2d(in_channels=3, out_channels=8, kernel_size=3, padding=1)
pool = nn.MaxPool2d(kernel_size=2)
print("kernels (m, n, k, k):", tuple(conv.weight.shape))
print("conv output:        ", tuple(conv(x_demo).shape))  # (1, 8, 32, 32): one channel per kernel
print("pool output:        ", tuple(pool(conv(x_demo)).shape))  # (1, 8, 16, 16): same channels

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 例 9.1 逐步运行
#
# ### 第 1 步：加载预训练模型
#
# 教材用 torchvision 在 ImageNet 上预训练的 VGG16-bn（带批归一化 batch normalization 的 VGG16）。
# 没有网络、也没有缓存权重时，`load_model` 改用课程自带的 EfficientNet-Lite0，并打印出来；下面所有代码对两种模型都适用，
# **输出里的层名、形状和数字取决于实际使用的模型**，请以打印的 `model in use` 为准。

# %% slideshow={"slide_type": "-"}
bundle = load_model("vgg16_bn")  # the book's model; offline: the bundled EfficientNet-Lite0
model = bundle.model
print("model in use:", bundle.name, "| source:", bundle.source)

# %% [markdown] slideshow={"slide_type": "fragment"}
# > **勘误**：教材写 `models.vgg16_bn(pretrained=True)`。参数 `pretrained` 从 torchvision 0.13 起已弃用（会给出警告，将来会删除），
# > 现在的写法是 `models.vgg16_bn(weights=models.VGG16_BN_Weights.IMAGENET1K_V1)`。`load_model` 内部就是这样加载的。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 第 2 步：把模型“拆开再组装”
#
# 分类网络分两段：前面的卷积部分提取特征，后面的分类头（classifier）根据特征给出 1000 个类别的分数。
# 例 9.1 只关心卷积部分，把它拆成一个个层放进列表 `cnn_layers`，之后就能让图片一层一层地往前走，随时取出中间结果。
#
# - VGG16-bn：`features` 里的 44 个模块（13 个卷积层、13 个批归一化层、13 个 ReLU、5 个最大池化层）再加上 `avgpool`，共 **45 层**，与教材一致；
# - EfficientNet-Lite0：`conv_stem`、`bn1`、16 个块（block，每个块本身是一个小网络：深度可分离卷积或倒残差结构）、`conv_head`、`bn2`，共 20 层。
#
# `bundle.feature_layers` 按顺序给出这些 `(名字, 模块)`。

# %% slideshow={"slide_type": "subslide"}
layer_names = [name for name, _ in bundle.feature_layers]
cnn_layers = [module for _, module in bundle.feature_layers]
if bundle.name == "vgg16_bn":  # the book's own construction gives the same 45 modules
    book_layers = list(model.features.children()) + [model.avgpool]
    assert len(book_layers) == 45 and all(a is b for a, b in zip(cnn_layers, book_layers))
print(f"{bundle.name}: {len(cnn_layers)} layers")
for i in (0, 1, 2, len(cnn_layers) - 1):
    print(f"  {i:2d} {layer_names[i]:<12s} {type(cnn_layers[i]).__name__}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 第 3 步：读入图片并预处理
#
# 教材的预处理是：缩放到短边 256（`Resize(256)`）、中心裁剪 224×224（`CenterCrop(224)`）、转成张量（`ToTensor`，像素值变为 0～1）、
# 再按均值 0.5、标准差 0.2 归一化（`Normalize`）。
#
# 但**模型必须看到和训练时一样归一化的输入**。torchvision 的 VGG16-bn 训练时用的是 ImageNet 的统计量
# （均值 0.485, 0.456, 0.406，标准差 0.229, 0.224, 0.225），教材的 0.5/0.2 是它的近似；
# 自带的 EfficientNet-Lite0 训练时用的是均值 0.5、标准差 0.5（输入落在 −1～1），用 0.2 会把输入放大 2.5 倍（它缩放图片时还用双三次插值）。
# 所以后面一律用 `bundle.preprocess`（`bundle.to_input` 再加上 batch 维），它按模型自己的训练方式归一化。下面比较两种预处理：

# %% slideshow={"slide_type": "subslide"}
image = load_image("cat")  # the book: Image.open(path + '\\' + name), which only works on Windows
print("photo size (w, h):", image.size)
book_transform = transforms.Compose([
    transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
    transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.2, 0.2, 0.2]),
])
x_book = book_transform(image).unsqueeze(0).to(bundle.device)  # (1, 3, 224, 224)
x = bundle.to_input(image)  # (1, 3, 224, 224), normalized the way the model was trained
print("model's own normalization: mean", bundle.mean, "std", bundle.std)
for label, inp in (("book 0.5/0.2", x_book), ("model's own", x)):
    with torch.no_grad():
        probs = model(inp).softmax(dim=1)[0]  # (1000,)
    p, k = probs.max(dim=0)
    print(f"{label:<13s} input range [{inp.min():.3f}, {inp.max():.3f}]"
          f" -> {bundle.categories[int(k)]} ({float(p):.3f})")

# %% [markdown] slideshow={"slide_type": "-"}
# 两种预处理给出的概率不同，最可能的类别甚至也可能不同：归一化不对，各层的激活就跟着变，后面看到的每一张特征图都会不同。

# %% [markdown] slideshow={"slide_type": "subslide"}
# 第 1～3 步对应教材的三段代码（加载模型、拆层、读图），后面还有一行调色板 `cmap = cm.get_cmap('jet')`。下面把它们连同教材最后列出的 `import` 一起**照排印**运行，只改能运行所必需的地方（标 `# CHANGED:`），
# 再和上面的 `cnn_layers`、`x_book` 逐个核对。教材的路径 `path + '\\' + name` 只在 Windows 上能用：先照原样试一次，再改。

# %% slideshow={"slide_type": "skip"}
import torch  # the book's imports, as printed
from torchvision import models
import numpy as np
import torchvision.transforms as transforms
from PIL import Image
import torch.nn as nn
import matplotlib.pyplot as plt
from torchvision.transforms.functional import to_pil_image
from matplotlib import cm  # imports fine today; only cm.get_cmap is gone (below)

model = bundle.model  # CHANGED: models.vgg16_bn(pretrained=True) #加载 VGG16 (第 1 步: the bundled model offline)
model.eval()

features = model.features if bundle.name == "vgg16_bn" else cnn_layers[:-1]  # CHANGED (added): no .features offline
cnn_layers_book = []  # CHANGED: cnn_layers (a second list, to compare with 第 2 步's)
for k in range(len(features)):  # CHANGED: range(43+1) #添加卷积网络层 (43+1 = len(model.features) for VGG16-bn)
    cnn_layers_book.append(features[k])  # CHANGED: model.features[k]
cnn_layers_book.append(cnn_layers[-1])  # CHANGED: model.avgpool #自适应平均池化层 (the last feature layer)
assert len(cnn_layers_book) == len(cnn_layers) and all(a is b for a, b in zip(cnn_layers_book, cnn_layers))

path = str(images.sample_path("cat").parent)  # CHANGED: r'./data/Interpretability/images'
name = images.sample_path("cat").name  # CHANGED: 'both.png' (not in the course; 图 9-5 uses cat_and_cup)
fn = path + '\\' + name
try:
    Image.open(fn)
except FileNotFoundError as err:
    print(f"as printed, fn = path + '\\\\' + name: {type(err).__name__} on {sys.platform}")
fn = os.path.join(path, name)  # CHANGED: path + '\\' + name
tfs = transforms.Compose([transforms.Resize(256),
                           transforms.CenterCrop(224),
                           transforms.ToTensor(),
                           transforms.Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])])
origin_img = Image.open(fn).convert('RGB') #打开图片并转换为 RGB 模型
img = tfs(origin_img) #图片预处理 torch.Size([3, 224, 224])
img = img.unsqueeze(0) #添加批次的维 torch.Size([1, 3, 224, 224])
assert torch.equal(img.to(x_book.device), x_book)
print(f"the book's steps (1)-(3): {len(cnn_layers_book)} layers, the same modules as 第 2 步; "
      f"img {tuple(img.shape)} == x_book (the book's 0.5/0.2 normalization)")
try:
    cmap = cm.get_cmap('jet')  # the book's palette line, as printed
except AttributeError as err:
    print(f"as printed, cmap = cm.get_cmap('jet'): AttributeError (Matplotlib {matplotlib.__version__})")
cmap = plt.colormaps['jet']  # CHANGED: cm.get_cmap('jet') (第 5 步 explains its colours)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 第 4 步：让图片逐层前向，打印每层输出的形状
#
# 教材的循环 `for k,m in enumerate(cnn_layers): out = m(out)` 不保存各层的输出，只在 `k == 3` 和 `k == 44` 时当场调用 `showImg`；
# 画图 9-5 时又把整个循环从头跑了一遍（教材的代码一共前向两次）。这里改为跑一遍、把每层的输出存进 `outputs`，后面随时取用。
# 存的时候要 `clone()`：VGG 的 ReLU 是原地（in-place，`inplace=True`）操作，只把张量本身放进列表的话，下一层的 ReLU 会把刚存进去的
# 批归一化输出改掉。这是**我们的**写法需要注意的地方，不是教材的问题（教材不保存张量）。

# %% slideshow={"slide_type": "subslide"}
outputs = []  # outputs[i]: output of cnn_layers[i], (1, C, h, w)
feat = x
with torch.no_grad():
    for i, layer in enumerate(cnn_layers):
        feat = layer(feat)
        outputs.append(feat.clone())  # clone: a later in-place ReLU would overwrite a stored tensor
        print(f"{i:2d} {layer_names[i]:<12s} {type(layer).__name__:<22s} {tuple(feat.shape)}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 读这张表：越往深处，特征图的**尺寸越小**（步长为 2 的卷积或池化让边长减半，224 → 112 → 56 → 28 → 14 → 7），**通道越多**（卷积核越来越多）。
# 浅层的特征图大而少，记录边缘、颜色这类局部细节；深层的特征图小而多，每个位置对应原图上一大片区域，记录更抽象的组合特征。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 第 5 步：教材的调色板和 `showImg`
#
# 教材先定义“调色板” `cmap = cm.get_cmap('jet')`，并这样描述它：0 对应最左边的颜色，“这是一种淡蓝色”；255 对应最右边的颜色，“这是一种深蓝色”；
# 从 0 到 255，颜色“逐渐变红、变深、变蓝”。这与 Matplotlib 的 `jet`（深蓝 → 青 → 黄 → 深红）对不上。原因在 `showImg` 里的一行：
# `img = cmap(img)[:,: , 1:]`。`cmap(v)` 返回 R、G、B、A 四个分量（A 是不透明度，`jet` 里恒为 1），`[:, :, 1:]` 取到的是 G、B、A，
# 显示时被当成 R、G、B。把两条调色板并排画出来，教材的描述就清楚了：它描述的是错位之后的调色板。

# %% slideshow={"slide_type": "subslide"}
ramp = np.linspace(0, 1, 256)[None, :]  # (1, 256): the values 0 ... 255, scaled
jet = matplotlib.colormaps["jet"]
fig, axes = plt.subplots(2, 1, figsize=(8, 2.4), dpi=80, layout="constrained")
axes[0].imshow(jet(ramp)[..., :3], aspect="auto")  # R, G, B
axes[0].set_title("jet：cmap(v)[..., :3]（R、G、B）", fontsize=10)
axes[1].imshow(jet(ramp)[..., 1:], aspect="auto")  # G, B, A shown as R, G, B
axes[1].set_title("教材：cmap(v)[:, :, 1:]（G、B、A 当作 R、G、B）：淡蓝 → 品红 → 深蓝", fontsize=10)
for ax in axes:
    ax.set_yticks([])
    ax.set_xticks([0, 64, 128, 192, 255])
plt.show()
for v in (0, 128, 255):
    print(f"value {v:3d}: jet RGB {np.round(jet(v)[:3], 3).tolist()} | book's colour {np.round(jet(v)[1:], 3).tolist()}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 按教材的说法读教材的图，深蓝是大值、淡蓝是小值，这没有错；但按 `jet` 的习惯（红大蓝小）去读，就会读反。**改正**：`cmap(img)[..., :3]`。
#
# `jet` 本身也有问题：它的亮度不随数值单调变化（中间的青、黄最亮，两端的深蓝、深红都暗），眼睛会在亮度跳变处看到并不存在的“边界”。
# `viridis` 这类**感知均匀**（perceptually uniform）的色图亮度随数值单调增加，更适合读数。9.2 节的类激活图浏览器可以在 `jet`、`viridis` 等色图之间切换；本节的浏览器固定用 `jet`。
#
# 下面是教材的 `showImg`，逐字抄录，只改了能运行所必需的地方（标 `# CHANGED:`）。有两处要说明：
#
# - 教材排版中最后一行 `return` 没有缩进，在函数外面，照抄会 `SyntaxError`。这很可能是文字提取时丢了缩进（同一份文本里 `hook_fun` 的函数体也丢了缩进），不一定是教材的错；这里把它缩进到函数里；
# - 教材的归一化**有**保护：`if max_min == 0: max_min = 1e-6`，全为 0 的通道不会出现 0/0（没有保护的是图 9-5 的代码和例 9.2、9.3，见后文）。

# %% slideshow={"slide_type": "subslide"}
from matplotlib import colormaps  # CHANGED: the book imports `from matplotlib import cm`

warnings.filterwarnings("ignore", message="__array__ implementation")  # CHANGED (added): NumPy 2 warns on np.array(tensor)


def showImg_book(channel_img):  # CHANGED: showImg (renamed: the fixed showImg below keeps the name) #channel_img 表示特征图的一个通道图像
    channel_img = torch.relu(channel_img)  # torch.Size([224, 224])
    max_min = channel_img.max()-channel_img.min()
    if max_min == 0:
        max_min = 1e-6
    channel_img = (channel_img-channel_img.min())/max_min  # 归一化到[0,1]
    channel_img = (channel_img**2)*255  # 在归一化到[0, 255]
    img = np.array(channel_img.data.cpu()).astype(np.uint8)  # CHANGED: .cpu() added (np.array fails on a GPU tensor)
    cmap = colormaps['jet']  # CHANGED: cm.get_cmap('jet') #定义调色板 (removed in Matplotlib 3.9)
    img = cmap(img)[:,: , 1:]  # 使用调色板
    plt.imshow(img)  # 显示图像
    plt.show()
    return  # CHANGED: indented (in the extracted text it stands outside the function)


def showImg(channel: torch.Tensor) -> np.ndarray:
    """The book's showImg with the palette fixed; returns the picture instead of drawing it.

    Shapes: channel (h, w) -> (h, w, 3) RGB in [0, 1].
    """
    a = np.maximum(channel.detach().cpu().numpy(), 0)  # ReLU
    a = minmax(a) ** 2  # min-max with the same kind of guard as the book's, then square
    return matplotlib.colormaps["jet"](a)[..., :3]  # [..., :3]: R, G, B


shallow = outputs[1][0]  # (C, h, w), layer 1
top = int(widgets.feature_maps.rank_channels(shallow)[0])  # its most active channel (the explorer's order)
plt.figure(figsize=(3, 3), dpi=60)
showImg_book(shallow[top])  # the book's colours
flat = torch.relu(torch.zeros(7, 7) - 1)  # a channel that is all zero after ReLU
max_min = flat.max() - flat.min()  # the book's three lines
if max_min == 0:
    max_min = 1e-6
print("the book's min-max on an all-zero channel:", int(((flat - flat.min()) / max_min).isnan().sum()), "NaN")
for i in (1, len(outputs) - 1):
    for c in range(outputs[i].shape[1]):  # every channel, flat ones included
        np.testing.assert_allclose(showImg(outputs[i][0, c]), viz.show_channel(outputs[i][0, c]),
                                   atol=1e-6)
print("showImg (palette fixed) == viz.show_channel on every channel of layers", 1, "and", len(outputs) - 1)

# %% [markdown] slideshow={"slide_type": "-"}
# `viz.show_channel` 就是上面这个改正了调色板的 `showImg`（它不量化到 0～255 的整数，其余相同），后面直接用它。下面把同一个通道按两种调色板并排画出，都配上颜色条：

# %% slideshow={"slide_type": "subslide"}
values = minmax(shallow[top].clamp(min=0).numpy()) ** 2  # (h, w): showImg's numbers
book_cmap = matplotlib.colors.ListedColormap(jet(np.linspace(0, 1, 256))[:, 1:])  # the book's palette
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), dpi=70, layout="constrained")
for ax, cmap_, title in ((axes[0], book_cmap, "教材 [:, :, 1:]"), (axes[1], "jet", "修正 [..., :3]（jet）"),
                         (axes[2], "viridis", "viridis（感知均匀）")):
    shown = ax.imshow(values, cmap=cmap_, vmin=0, vmax=1)
    fig.colorbar(shown, ax=ax, fraction=0.046, label="归一化后再平方")
    ax.set_title(f"{title}，通道 {top}", fontsize=10)
    ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 图 9-3、图 9-4：第二个卷积层和最后一层的输出
#
# 教材画出第二个卷积层输出的第 0、20、40、60 个通道（图 9-3），以及自适应平均池化层输出的同样 4 个通道（图 9-4）。
# 代码里不写死层号，而是找“第 2 个含卷积的层”：在 VGG16-bn 上就是 `features.3`（教材的 `cnn_layers[3]`）；
# 在 EfficientNet-Lite0 上是 `blocks.0.0`（紧跟在第一层卷积 `conv_stem` 后的深度可分离卷积块）。
# 某一层如果不到 61 个通道，通道号 60 就越界了，这时改为在该层均匀取 4 个通道，并打印实际用的通道号。
# 下面的图用改正后的颜色（`jet`，深蓝小、深红大），每行配一个颜色条。

# %% slideshow={"slide_type": "subslide"}
conv_positions = [i for i, m in enumerate(cnn_layers)
                  if any(isinstance(s, nn.Conv2d) for s in m.modules())]
second_conv, last = conv_positions[1], len(cnn_layers) - 1
book_channels = [0, 20, 40, 60]


def pick_channels(n_channels: int) -> list[int]:
    """The book's channels 0, 20, 40, 60, or four evenly spaced ones if the layer has fewer."""
    if n_channels > max(book_channels):
        return book_channels
    return np.linspace(0, n_channels - 1, 4).round().astype(int).tolist()


def show_row(axes_row, acts: torch.Tensor, channels: list[int], label: str) -> None:
    """Draw channels of one layer with showImg's numbers, one colour bar for the row."""
    for ax, c in zip(axes_row, channels):
        shown = ax.imshow(minmax(acts[c].clamp(min=0).numpy()) ** 2, cmap="jet", vmin=0, vmax=1)
        ax.set_title(f"{label}通道 {c}" + ("（全为 0）" if float(acts[c].max()) <= 0 else ""), fontsize=9)
        ax.axis("off")
    plt.colorbar(shown, ax=list(axes_row), fraction=0.02, label="归一化后再平方")


acts3 = outputs[second_conv][0]  # (C, h, w)
fig, axes = plt.subplots(1, 4, figsize=(11, 3), dpi=70, layout="constrained")
show_row(axes, acts3, pick_channels(acts3.shape[0]), "")
fig.suptitle(f"图 9-3  cnn_layers[{second_conv}]（{layer_names[second_conv]}）的输出，形状 {tuple(outputs[second_conv].shape)}")
plt.show()
print(f"图 9-3: layer {second_conv} ({layer_names[second_conv]}), channels {pick_channels(acts3.shape[0])}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 教材画图 9-3、图 9-4 的循环，**照排印**运行（改动标 `# CHANGED:`）：层号 3 和 44 是 VGG16-bn 的编号，换成当前模型的“第二个卷积层”和最后一层；
# 通道号 0、20、40、60 在不到 61 个通道的层上越界，换成上面 `pick_channels` 给出的 4 个；调用第 5 步逐字抄录的 `showImg_book`（教材的调色板）。
# 循环结束后，和第 4 步存下的层输出核对。

# %% slideshow={"slide_type": "subslide"}
seen_book = {}  # CHANGED (added): keep the two outputs to compare with 第 4 步
with plt.rc_context({"figure.figsize": (2.2, 2.2), "figure.dpi": 50}):  # CHANGED (added): small figures
    out = x  # CHANGED: img (the book's 0.5/0.2 input) -> x (the model's own normalization, 第 3 步)
    for k,m in enumerate(cnn_layers):
        out = m(out)
        if k == second_conv:  # CHANGED: k == 3 #cnn_layers[3]存放 VGG16 的第二个卷积层
            print('第二个卷积层输出特征图的形状: ', out.shape)
            ch = pick_channels(out.shape[1])  # CHANGED (added): 0, 20, 40, 60, or 4 that exist
            seen_book[k] = out.detach().clone()  # CHANGED (added)
            showImg_book(out[0, ch[0]])  # CHANGED: showImg(out[0, 0]) (the verbatim copy of 第 5 步)
            showImg_book(out[0, ch[1]])  # CHANGED: showImg(out[0, 20])
            showImg_book(out[0, ch[2]])  # CHANGED: showImg(out[0, 40])
            showImg_book(out[0, ch[3]])  # CHANGED: showImg(out[0, 60])
        elif k == last:  # CHANGED: k == 44 #cnn_layers[44]存放 VGG16 的自适应平均池化层
            print('自适应平均池化层输出特征图的形状: ', out.shape)
            ch = pick_channels(out.shape[1])  # CHANGED (added)
            seen_book[k] = out.detach().clone()  # CHANGED (added)
            showImg_book(out[0, ch[0]])  # CHANGED: showImg(out[0, 0])
            showImg_book(out[0, ch[1]])  # CHANGED: showImg(out[0, 20])
            showImg_book(out[0, ch[2]])  # CHANGED: showImg(out[0, 40])
            showImg_book(out[0, ch[3]])  # CHANGED: showImg(out[0, 60])
for k_, kept in seen_book.items():
    torch.testing.assert_close(kept, outputs[k_], rtol=1e-4, atol=1e-4)
print(f"the book's loop == 第 4 步's outputs at layers {sorted(seen_book)} ({[layer_names[i] for i in sorted(seen_book)]})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 图 9-4 换到最后一层（7×7）。教材的 4 个通道在这里很可能不好看：有的全为 0，有的只在边上亮。所以第二行按一个**明确的标准**另挑 4 个通道：
# 在平均激活最大的 100 个通道里，取最大值不在最外一圈、且**最集中**的 4 个——集中度 = 最大值周围 3×3 格子上的激活之和 ÷ 整个通道的激活之和。
# 第一行是教材的通道号，第二行是按标准挑的，标题写明了哪个是哪个。

# %% slideshow={"slide_type": "subslide"}
deep = outputs[last][0].clamp(min=0)  # (C, 7, 7) after ReLU, as showImg does
mass = deep.sum(dim=(1, 2))  # (C,)
around = nn.functional.avg_pool2d(nn.functional.pad(deep[:, None], (1, 1, 1, 1)), 3, stride=1)[:, 0] * 9
concentration = around.amax(dim=(1, 2)) / mass.clamp(min=1e-12)  # (C,): share of the 3x3 around the peak
peak = deep.flatten(1).argmax(dim=1)  # (C,)
pi, pj = peak // deep.shape[2], peak % deep.shape[2]
inside = (pi > 0) & (pi < deep.shape[1] - 1) & (pj > 0) & (pj < deep.shape[2] - 1)
busiest = mass.argsort(descending=True)[:100].tolist()
chosen = sorted((c for c in busiest if inside[c]), key=lambda c: -float(concentration[c]))[:4]

fig, axes = plt.subplots(2, 4, figsize=(11, 5.6), dpi=70, layout="constrained")
book4 = pick_channels(deep.shape[0])
show_row(axes[0], deep, book4, "教材：")
show_row(axes[1], deep, chosen, "按标准：")
fig.suptitle(f"图 9-4  cnn_layers[{last}]（{layer_names[last]}）的输出，形状 {tuple(outputs[last].shape)}")
plt.show()
alive = mass > 0
ring = 1 - deep[:, 1:-1, 1:-1].sum(dim=(1, 2)) / mass.clamp(min=1e-12)  # (C,): share on the outer ring
for label, chs in (("book", book4), ("chosen", chosen)):
    print(f"{label:<6s} channels {chs}: concentration "
          f"{[round(float(concentration[c]), 3) if alive[c] else 'all 0' for c in chs]},"
          f" share on the outer ring {[round(float(ring[c]), 3) if alive[c] else 'all 0' for c in chs]}")
print(f"{layer_names[last]}: {int((~alive).sum())} of {deep.shape[0]} channels all zero; "
      f"{int(((ring > 0.9) & alive).sum())} of the {int(alive.sum())} others have > 90% of their activation "
      f"on the outer ring ({(49 - 25) / 49:.3f} of the cells)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 怎么读（数字以上面的打印为准）：
#
# - 浅层（图 9-3）的特征图保留了猫的轮廓，有的通道对边缘有反应，有的对某种颜色或纹理有反应，还能认出原图；
# - 最后一层只有 7×7。相邻两格在输入图像上相距 32 像素，这是网络的**总步长**（stride）；每个格子的感受野（receptive field）比 32×32 大得多，
#   所以一格并不对应“原图上 32×32 的一片”，只能粗略地指出位置；
# - 教材的 4 个通道在这张图上有的**全为 0**（这个卷积核在这张图上什么也没提取到，和教材图 9-4(c) 一样），有的几乎只在最外一圈亮；
# - 按集中度挑出的通道，激活集中在图中间的一小块，更像“对某个局部图案有反应”。挑选标准会影响你看到什么：**报告通道图时要说明为什么挑这几个**。
#
# 只在边上亮的通道，常被说成**边界效应**（border effect）：卷积在图像外面补零（zero padding），边上的格子看到的是人为的“边”。
# 但这只是一种猜测，下面把它当作假设来测。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 边上亮的通道：边界效应，还是图像内容？
#
# 三个实验，各回答一个问题：
#
# 1. **补零补在哪一边？** 课程模型 EfficientNet-Lite0 沿用 TensorFlow 的 “SAME” 补零（`Conv2dSame`）：步长为 2、输入边长为偶数时，
#    只需要补 1 行 1 列，补在**下边和右边**。把一张处处为 1 的输入送进第一层，看哪些行、列和中心不同；
# 2. **没有内容时，边上会亮吗？** 中灰图（128）归一化后几乎是 0，和补的零一样，图像和补零区域之间没有“边”。把它送进图 9-4 的同一层，看各格是否相同；
# 3. **亮的那一行跟着图像走，还是留在边上？** 把照片上下翻转；再把模型看到的 224×224 区域贴到中灰画布上、往上移 64 像素（两格），
#    下面两格变成和补零一样的灰。跟着图像走的是内容，留在边上的才是边界效应。

# %% slideshow={"slide_type": "subslide"}
with torch.no_grad():
    first_out = cnn_layers[0](torch.ones(1, 3, 224, 224, device=bundle.device))[0]  # (C, H1, W1)
mid = first_out.shape[1] // 2
row_dev = (first_out[:, :, mid] - first_out[:, mid:mid + 1, mid]).abs().amax(dim=0)  # (H1,) down the centre column
col_dev = (first_out[:, mid, :] - first_out[:, mid, mid:mid + 1]).abs().amax(dim=0)  # (W1,) along the centre row
print(f"1. {layer_names[0]} ({type(cnn_layers[0]).__name__}) on an all-ones input, {first_out.shape[1]} rows: "
      f"rows that differ from the centre {(row_dev > 1e-4).nonzero()[:, 0].tolist()}, "
      f"columns {(col_dev > 1e-4).nonzero()[:, 0].tolist()}")

grey = Image.new("RGB", (224, 224), (128, 128, 128))
x_grey = bundle.to_input(grey)  # (1, 3, 224, 224)
g_last = hooks.capture_activations(model, x_grey, bundle.feature_layers)[layer_names[last]][0]  # (C, 7, 7)
c7 = g_last.shape[1] // 2
grey_dev = float((g_last - g_last[:, c7:c7 + 1, c7:c7 + 1]).abs().max())
print(f"2. mid-grey input after normalization: largest |value| {float(x_grey.abs().max()):.3f}; "
      f"{layer_names[last]}: largest difference from the centre cell {grey_dev:.3f} "
      f"(its largest value {float(g_last.abs().max()):.3f}; on the cat photo {float(deep.max()):.3f})")

resize_step, crop_step, *rest = bundle.preprocess.transforms  # the model's own preprocessing, step by step
to_tensor = transforms.Compose(rest)
view = crop_step(resize_step(image))  # the 224x224 the model sees
assert torch.allclose(to_tensor(view).unsqueeze(0).to(bundle.device), x, atol=1e-6)
moved = Image.new("RGB", view.size, (128, 128, 128))
moved.paste(view, (0, -64))  # the photo 64 px (two cells) higher, mid-grey below
runs = {"照片": x, "上下翻转": bundle.to_input(ImageOps.flip(image)),
        "上移 64 像素": to_tensor(moved).unsqueeze(0).to(bundle.device)}
rows = {}  # label -> (C, 7): each row's share of the channel's activation
for label, inp in runs.items():
    a = hooks.capture_activations(model, inp, bundle.feature_layers)[layer_names[last]][0].clamp(min=0)
    rows[label] = a.sum(dim=2) / a.sum(dim=(1, 2)).clamp(min=1e-12)[:, None]  # (C, 7)
bottom_lit = [c for c in range(deep.shape[0]) if alive[c] and float(rows["照片"][c, -1]) > 0.9]
to_top = sum(float(rows["上下翻转"][c, 0]) > 0.5 for c in bottom_lit)
stay_flip = sum(float(rows["上下翻转"][c, -1]) > 0.5 for c in bottom_lit)
stay_moved = sum(float(rows["上移 64 像素"][c, -1]) > 0.5 for c in bottom_lit)
print(f"3. {len(bottom_lit)} channels have > 90% of their activation on the bottom row of the photo's map.")
print(f"   flipped photo: {to_top} of them move to the top row, {stay_flip} stay on the bottom row")
print(f"   photo moved up 64 px: {stay_moved} of them stay on the bottom row (now mid-grey, like the padding)")
for c in [c for c in book4 if c in bottom_lit]:
    print(f"   book channel {c}: row shares", {k: [round(float(u), 2) for u in v[c]] for k, v in rows.items()})
stays = max(stay_flip, stay_moved)  # channels that keep to the bottom row in either test
follows = stays <= 0.2 * len(bottom_lit)
print(f"verdict: {len(bottom_lit) - stays} of {len(bottom_lit)} leave the bottom row when the image moves:",
      "most follow the image content" if follows else "many stay at the border")
n1 = first_out.shape[1]
bundle.expect((row_dev > 1e-4).nonzero()[:, 0].tolist() == [n1 - 1] and (col_dev > 1e-4).nonzero()[:, 0].tolist() == [n1 - 1],
              "the first layer's SAME padding pads only the bottom row and the right column")
bundle.expect(grey_dev < 0.5 and float(x_grey.abs().max()) < 0.01, "a mid-grey image gives an (almost) constant last layer")
bundle.expect(follows and to_top > stay_flip, "most bottom-row channels leave the bottom row when the image is flipped or moved")
bundle.expect(all(float(rows[k][c, -1]) < 0.5 for c in book4 if c in bottom_lit for k in ("上下翻转", "上移 64 像素")),
              "the book's bottom-row channels leave the bottom row with the image")

# %% slideshow={"slide_type": "subslide"}
shown_c = next((c for c in book4 if c in bottom_lit), bottom_lit[0] if bottom_lit else book4[0])
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), dpi=70, layout="constrained")
for ax, (label, inp) in zip(axes, runs.items()):
    a = hooks.capture_activations(model, inp, bundle.feature_layers)[layer_names[last]][0, shown_c]
    shown = ax.imshow(a.clamp(min=0).numpy(), cmap="jet", vmin=0, vmax=float(deep[shown_c].max()) or 1.0)
    ax.set_title(f"{label}：通道 {shown_c}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks(range(7))
fig.colorbar(shown, ax=axes, fraction=0.03, label=f"{layer_names[last]} 的激活（ReLU 后）")
fig.suptitle("亮的那一行跟着图像走吗？")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 读结果（数字以上面的打印为准）：
#
# - 实验 1：课程模型的第一层只在**最后一行、最后一列**和中心不同：“SAME” 补零补在下边和右边，上边和左边不补。所以即使有边界效应，
#   也不会是对称的“一圈”；
# - 实验 2：中灰图归一化后和补的零几乎一样，图 9-4 那一层的各格几乎相同（打印的最大差别）：没有内容、也没有“边”时，边上并不会自己亮起来；
# - 实验 3：翻转照片或把照片上移两格后，“只在最下一行亮”的通道大多离开了最下一行（翻转后跑到最上一行的比留下的多得多，
#   上移后留在最下一行的更少，见打印）；教材的通道 0、40 都跟着图像走。它们对的是照片**下部的内容**，而不是补零造成的边界效应；
#   只有打印里“留在最下一行”的那几个通道，才可能是边界效应。
#
# 所以“只在边上亮”不能直接读成边界效应：要像这样移动图像再看一次。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 图 9-5、图 9-6：把深层的一个通道放大，叠加到原图上
#
# 7×7 的图太粗，看不出对应原图哪里。教材的做法：用双三次插值（bicubic interpolation）把它放大到原图大小（图 9-5），
# 再按 0.7（原图）+ 0.3（热力图）混合（图 9-6）。教材用的是第 44 层（自适应平均池化层）的第 60 个通道，它在教材的图上
# “主要表征了狗的脸部及其四周”（教材的图片 `both.png` 不在课程里）。
#
# 先**照排印**运行教材的这段代码，只改能运行所必需的地方（标 `# CHANGED:`）。教材的照片 `both.png` 里有猫有狗；课程用同样是两个物体的
# `cat_and_cup`（512×512，**方形**）。教材的写法 `h,w,_ = np.array(origin_img).shape` 之后 `resize((h,w))`：PIL 的 `resize` 要的是 `(宽, 高)`，
# 但方形照片 h = w，这一行**恰好是对的**（下面用数字核对）；非方形照片的情况在后面演示。

# %% slideshow={"slide_type": "subslide"}
origin_img = load_image("cat_and_cup")  # CHANGED: Image.open(path + '\\' + name).convert('RGB'), both.png is not in the course
img = bundle.to_input(origin_img)  # CHANGED: tfs(origin_img).unsqueeze(0) with the model's own normalization (第 3 步)

out = img
for k,m in enumerate(cnn_layers):
    out = m(out)
    if k == last:  # CHANGED: k == 44 (VGG16-bn's avgpool); `last` is the index of the model's last layer
        img44_60 = out[0, 60]  # CHANGED: Img44_60 (NameError: the next line reads img44_60)
#归一化到[0,1]
img44_60 = (img44_60-img44_60.min())/(img44_60.max()-img44_60.min())
img44_60 = np.array(img44_60.data.cpu())  # CHANGED: .cpu() added #转化为数组
#转化为 PIL 格式，以准备调用 resize()方法进行插值缩放
img44_60 = to_pil_image(img44_60, mode='F')
h,w,_ = np.array(origin_img).shape #获取原图的尺寸
#通过双三次插值方法扩展为跟原图一样大小
over_img = img44_60.resize((h,w), resample=Image.BICUBIC)
over_img = np.array(over_img)*255
over_img = over_img.astype(np.uint8) #归一化到[0,255]范围内
cmap = colormaps['jet']  # CHANGED: cm.get_cmap('jet') (removed in Matplotlib 3.9)
over_img = cmap(over_img)[:, :, 1:] #使用调色板
over_img = (255*over_img).astype(np.uint8) #over_img 为数组类型
origin_img = np.array(origin_img)
a = 0.7
#融合两张图片
origin_over_img = Image.fromarray((a * origin_img + (1 - a) * over_img).astype(np.uint8))
plt.figure(figsize=(3, 3), dpi=60)  # CHANGED (added): a small figure
plt.imshow(over_img) #显示扩展后的通道图像
plt.show()
plt.figure(figsize=(3, 3), dpi=60)  # CHANGED (added): a small figure
plt.imshow(origin_over_img) #显示融合后的图像
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 和课程的函数逐步核对：教材的循环得到的层输出、教材的最小-最大归一化、教材的 `resize((h,w))`（方形照片上）都和 `helpers` 的结果相同。

# %% slideshow={"slide_type": "-"}
sq_acts = hooks.capture_activations(model, img, bundle.feature_layers)[layer_names[last]]  # (1, C, 7, 7)
torch.testing.assert_close(out.detach(), sq_acts, rtol=1e-4, atol=1e-4)  # the book's loop == one pass with hooks
sq_map = minmax(sq_acts[0, 60].numpy())  # (7, 7)
np.testing.assert_allclose(np.asarray(img44_60), sq_map, atol=1e-6)  # the book's min-max == minmax
big_book = np.asarray(img44_60.resize((h, w), resample=Image.BICUBIC))  # the book's (h, w) order, h == w here
np.testing.assert_array_equal(np.clip(big_book, 0, 1), viz.upsample(sq_map, (w, h)))  # (w, h), overshoot clipped
print(f"square photo {w}x{h}: the book's loop, min-max and resize((h,w)) == the helpers "
      f"(resize((h,w)) and resize((w,h)) are the same call when h == w)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# #### 双三次插值的过冲，再被 `uint8` 绕回
#
# 上面的核对里有一个 `np.clip`，因为教材的图 9-5 还有一个问题。双三次插值用的是三次多项式，在尖峰附近会**过冲**（overshoot）：
# 放大后的值会略小于 0、略大于 1。教材接着 `np.array(over_img)*255` 再 `.astype(np.uint8)`，超出 0～255 的数不会被截断，
# 而是**绕回**（wrap around）：略大于 255 的变成很小的数，略小于 0 的变成接近 255 的数。于是在最亮的区域里出现最暗的颜色，成了斑点。
# 下面数一数有多少像素被绕回，并把教材的 `uint8` 图和先截断（`np.clip`）再转换的图并排画出（为了只看这一个问题，两张图都用正确的 `jet` 调色板）。

# %% slideshow={"slide_type": "subslide"}
scaled = big_book * 255  # (h, w) float: what the book casts
book_u8 = scaled.astype(np.uint8)  # the book's cast
fixed_u8 = np.clip(scaled, 0, 255).astype(np.uint8)  # fix: clip before the cast
wrapped = book_u8 != fixed_u8  # (h, w)
print(f"bicubic range after *255: [{scaled.min():.1f}, {scaled.max():.1f}]; "
      f"outside 0..255: {int(((scaled < 0) | (scaled > 255)).sum())} pixels")
print(f"wrapped by .astype(np.uint8): about {round(int(wrapped.sum()), -2)} of {wrapped.size} pixels "
      f"({wrapped.mean():.3f}; the last digits move with float rounding)")
hi, lo = np.unravel_index(scaled.argmax(), scaled.shape), np.unravel_index(scaled.argmin(), scaled.shape)
print(f"e.g. {scaled[hi]:.1f} -> {book_u8[hi]} and {scaled[lo]:.1f} -> {book_u8[lo]} (this machine's cast); "
      f"clipped: {fixed_u8[hi]} and {fixed_u8[lo]}")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), dpi=60, layout="constrained")
for ax, pic, title in ((axes[0], book_u8, "教材：*255 后直接 astype(uint8)"),
                       (axes[1], fixed_u8, "改正：先 np.clip 到 0～255")):
    shown = ax.imshow(pic, cmap="jet", vmin=0, vmax=255)
    ax.set_title(title, fontsize=10)
fig.colorbar(shown, ax=axes[:2], fraction=0.03, label="颜色序号 0～255")
axes[2].imshow(wrapped, cmap="gray_r")
axes[2].set_title(f"被绕回的像素（黑）：{int(wrapped.sum())} 个", fontsize=10)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# > **勘误**（教材没有列出）：`over_img = np.array(over_img)*255` 与 `over_img = over_img.astype(np.uint8)`：双三次插值过冲到 [0, 1] 之外，
# > 转成 `uint8` 时绕回，最亮的区域里出现最暗的斑点（数目见上面的打印）。**改正**：先 `np.clip(..., 0, 255)`（或在 0～1 上截断）再转换。
# > 课程的 `viz.upsample` 把过冲截断到图自己的范围。
#
# 下面按改正后的写法，在课程的猫照片（451×300，**不是方形**）上重做一遍，并和 `viz.overlay` 核对；最后把教材的 `resize((h,w))` 用在这张照片上。
# 改了什么都写在注释里：`(w, h)` 的顺序、有保护的归一化、截断、`[..., :3]` 调色板。照片上的通道 60 可能全为 0 或几乎处处饱和，
# 所以同时画出上面按集中度挑出的第一个通道。

# %% slideshow={"slide_type": "subslide"}
w, h = image.size  # PIL gives (width, height)
photo = np.asarray(image, dtype=np.float32) / 255  # (h, w, 3)
k_book = 60 if deep.shape[0] > 60 else deep.shape[0] - 1
k_local = chosen[0]
maps = {}
for k in (k_book, k_local):
    raw = outputs[last][0, k]  # (7, 7), the book takes it before ReLU
    with np.errstate(invalid="ignore"):
        book_norm = ((raw - raw.min()) / (raw.max() - raw.min())).numpy()  # the book's unguarded min-max
    m = minmax(raw.numpy())  # (7, 7): fix: the same min-max, guarded
    big = np.asarray(Image.fromarray(m).resize((w, h), Image.Resampling.BICUBIC))  # fix: (w, h) order
    big = np.clip(big, 0, 1)  # (h, w); fix: clip the bicubic overshoot (no uint8 wrap-around)
    heat = matplotlib.colormaps["jet"](big)[..., :3]  # (h, w, 3); fix: [..., :3]   图 9-5
    blend = 0.7 * photo + 0.3 * heat  # (h, w, 3)   图 9-6
    maps[k] = (big, Image.fromarray(np.clip(blend * 255 + 0.5, 0, 255).astype(np.uint8)))
    print(f"channel {k}: NaN from the book's min-max {int(np.isnan(book_norm).sum())}, "
          f"share of the 7x7 cells above 0.5 after min-max {float((m > 0.5).mean()):.3f}")
    helper = viz.overlay(image, m, alpha=0.7)  # the same in one call: alpha = photo weight
    assert np.abs(np.asarray(maps[k][1], dtype=int) - np.asarray(helper, dtype=int)).max() <= 1
print("step by step == viz.overlay(image, m, alpha=0.7)")

h_book, w_book, _ = np.array(image).shape  # the book's line: h,w,_ = np.array(origin_img).shape
wrong = np.asarray(to_pil_image(m, mode="F").resize((h_book, w_book), resample=Image.BICUBIC))  # the book's line
print(f"non-square photo {w}x{h}: photo array {photo.shape} | map resized with (h, w): {wrong.shape}")
try:
    0.7 * photo + 0.3 * matplotlib.colormaps["jet"](wrong)[..., :3]  # the book's blend, a = 0.7
except ValueError as err:
    print("ValueError:", err)
else:
    raise AssertionError("the book's (h, w) order should not fit a non-square photo")

fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), dpi=60, layout="constrained")
for row, (k, label) in enumerate(((k_book, "教材的通道"), (k_local, "按集中度挑的通道"))):
    big, blended = maps[k]
    shown = axes[row, 0].imshow(big, cmap="jet", vmin=0, vmax=1)
    axes[row, 0].set_title(f"图 9-5  {label} {k}，双三次放大到 {w}×{h}", fontsize=10)
    axes[row, 1].imshow(blended)
    axes[row, 1].set_title(f"图 9-6  0.7 原图 + 0.3 热力图（通道 {k}）", fontsize=10)
    fig.colorbar(shown, ax=axes[row], fraction=0.03, label="归一化的激活值")
for ax in axes.flat:
    ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 非方形照片上，教材的 `resize((h,w))` 得到宽、高对调的图（上面打印的形状），和照片的数组形状对不上，混合时 `ValueError`；
# 方形照片上同一行是对的（前面已和 `viz.upsample` 核对）。PIL 的 `resize` 从不转置，它只是按给定的 (宽, 高) 缩放。
#
# “大于 0.5 的格子占比”（上面的打印）越接近 1，
# 通道就越是处处饱和，叠加到照片上只是一层均匀的颜色，说明不了“表征了哪里”；集中的通道才指得出位置。
#
# 还有一处容易忽略：模型看到的只是中心裁剪出的 224×224 区域（见第 3 步），教材把热力图拉伸到整张照片上，
# 对不是正方形的照片，位置会偏。`bundle.crop_box` 给出这块区域在原图上的位置，把热力图只叠在这块区域上才是准确的；
# `viz.overlay_box` 一步完成同样的事（9.2 节会用到）。

# %% slideshow={"slide_type": "subslide"}
box = bundle.crop_box(image.size)  # (left, top, right, bottom) kept by Resize(256)+CenterCrop(224)
m = minmax(outputs[last][0, k_local].numpy())  # (7, 7)
aligned = image.copy()
aligned.paste(viz.overlay(image.crop(box), m, alpha=0.7), box[:2])
assert np.array_equal(np.asarray(aligned), np.asarray(viz.overlay_box(image, m, box, outline=None)))
print("centre crop in the photo (left, top, right, bottom):", box)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), dpi=70, layout="constrained")
axes[0].imshow(maps[k_local][1])
axes[0].set_title(f"教材：拉伸到整张照片（通道 {k_local}）", fontsize=10)
axes[1].imshow(aligned)
axes[1].add_patch(plt.Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                edgecolor="white", linestyle="--"))
axes[1].set_title("只叠在模型看到的中心区域", fontsize=10)
for ax in axes:
    ax.axis("off")
fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet"), ax=axes,
             fraction=0.03, label="归一化的激活值")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 第 6 步：一次前向拿到所有层的输出（钩子，9.2 节预习）
#
# 逐层前向要把模型拆开。另一种办法是不拆模型，在每一层上注册一个**前向钩子**（`register_forward_hook`）：
# 模型正常地整体前向一次，每经过一层，钩子就把这一层的输出存下来。9.2 节的类激活图就靠这个办法取中间层的输出。
# 用完一定要把钩子移除（放在 `finally` 里，出错也会移除），否则它会一直挂在模型上。

# %% slideshow={"slide_type": "subslide"}
captured = {}


def make_hook(name: str):
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        captured[name] = output.detach().clone()  # clone: in-place ReLU again
    return hook


handles = [module.register_forward_hook(make_hook(name)) for name, module in bundle.feature_layers]
try:
    with torch.no_grad():
        logits = model(x)  # (1, 1000): one pass through the whole, unsplit model
finally:
    for handle in handles:
        handle.remove()
print("hooks left on the model:", hooks.count_hooks(model))
print("prediction:", bundle.categories[int(logits.argmax())])

acts = hooks.capture_activations(model, x, bundle.feature_layers)  # the helper does the same
for i, name in enumerate(layer_names):
    torch.testing.assert_close(captured[name], outputs[i], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(acts[name], outputs[i], rtol=1e-4, atol=1e-4)
print(f"all {len(layer_names)} layers: one pass with hooks == layer by layer")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 第 7 步：用数字读图
#
# 图 9-4 里有不少全是深蓝的通道。到底有多少？下面对每一层统计：**ReLU 之后整个通道都是 0 的通道占多少**
# （和 `showImg` 一样先做 ReLU，所以这正是画出来一片深蓝、“什么也没提取到”的通道），同时画出每层的通道数和特征图边长。

# %% slideshow={"slide_type": "subslide"}
channels = [acts[n].shape[1] for n in layer_names]
sides = [acts[n].shape[2] for n in layer_names]
dead = [float((acts[n][0].clamp(min=0).amax(dim=(1, 2)) == 0).float().mean()) for n in layer_names]

fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
ax1.plot(channels, "o-", label="通道数 C")
ax1.plot(sides, "s-", label="特征图边长 h（= w）")
ax1.set_yscale("log", base=2)
ax1.set_ylabel("C 或 h（对数坐标）")
ax1.legend(loc="upper left")
ax1.set_title(f"{bundle.name}：各层输出随深度的变化（图片：猫）")
ax2.bar(range(len(dead)), dead, color="tab:red")
ax2.set_ylabel("ReLU 后全为 0 的通道比例")
ax2.set_ylim(0, 1)
ax2.set_xticks(range(len(layer_names)))
ax2.set_xticklabels(layer_names, rotation=90, fontsize=7)
ax2.set_xlabel("层")
plt.tight_layout()
plt.show()

worst = sorted(range(len(dead)), key=lambda i: -dead[i])[:5]
print("largest fractions of all-zero channels:")
for i in worst:
    print(f"  {i:2d} {layer_names[i]:<12s} {dead[i]:.3f} of {channels[i]} channels")
print("layers with no all-zero channel:", sum(d == 0 for d in dead), "of", len(dead))

# %% [markdown] slideshow={"slide_type": "subslide"}
# 怎么读这张图（数字以上面打印的模型为准）：
#
# - 上图：边长按 2 的倍数一级级减半，通道数一级级增加；最后一层特征图最小、通道最多；
# - 下图：“全为 0”的通道主要出现在**输出经过激活函数**的层（VGG16-bn 的 ReLU 层；EfficientNet-Lite0 的 `bn1`、`bn2`，它们内含 ReLU6）和**最深的几层**。
#   深层的卷积核分工很细（某种毛皮纹理、某种形状），一张猫的照片只会激活其中一部分，其余的卷积核在这张图上就没有提取到任何东西，这正是教材说的“有些卷积核提取不到特征”。
#   EfficientNet-Lite0 的块输出（`blocks.*`）没有经过激活函数（线性瓶颈 linear bottleneck，再加上残差连接），正负值都有，浅层和中层的块几乎没有全 0 的通道，最深的几个块才开始出现。
#
# 换一张图片再运行一次，比例会变：哪些通道“死”，取决于图片里有什么。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 这个通道看到了什么：从“看图”到“量化”
#
# 教材在例 9.1 的最后留下一个问题：“但是，如何表示各通道表征的模式和内容，并对其进行有效的量化分析，进而量化研究不同卷积核所能识别的模式及其表达，这仍然是可解释深度模型需要进一步研究的问题。”
# 它还说高层“提取抽象的全局语义特征，这种特征可能难以从视觉上看出来”。这一节用三种常用的方法，尽量用数字回答“一个通道表征了什么”：
#
# 1. **最强图块**（top patches，Zeiler & Fergus 2014）：在一组图片里找这个通道激活最强的位置，把该位置的**感受野**（receptive field，这个格子依赖的输入像素）从原图上剪下来；
# 2. **特征可视化**（feature visualization，Olah 等 2017，Distill 文章 “Feature Visualization”）：从一张灰图出发，对**输入**做梯度上升，让这个通道的平均激活尽量大，看网络“最想看到”的图；
# 3. **网络解剖**（network dissection，Bau 等 2017）：拿一批标注了像素掩码的概念（“圆形”“条纹”“红色”……），量每个通道的高激活区域和每个概念的重合程度（交并比 IoU），给通道贴标签。
#
# 网络解剖需要像素级的概念标注，照片没有；9.4 节的**玩具世界**（toy world，合成的形状图片）有：每个形状的掩码、背景条纹的方向、每个像素的颜色都是已知的。
# 所以前两种方法用在本节的模型和课程照片上，第三种用在玩具世界的三个小网络上（它们在 9.4 节训练、使用）。
# 较慢的计算（特征可视化、三个网络全部通道的解剖）由 `scripts/make_channels_cache.py` 事先算好存在 `data/channels/`，下面在笔记本里**现场重算其中一部分**，与存档比对。

# %% slideshow={"slide_type": "subslide"}
from helpers.toy import world as shapes
from helpers.channels import cache, dissect, fv, patches
from helpers.channels.concepts import toy_concepts
from helpers.channels.layers import toy_layers

photos, photo_names = patches.photo_batch(bundle)  # (6, 3, 224, 224) in [0, 1], as the model sees them
middle = len(layer_names) // 2
patch_rows = []
for i in (second_conv, middle):
    a = patches.layer_activations(model, bundle.feature_layers, i, photos, bundle.mean, bundle.std)
    c = int(a.mean(dim=(2, 3)).amax(dim=0).argmax())  # the channel most active on some photo
    patch_rows.append(patches.top_patches(model, bundle.feature_layers, i, c, photos, k=6,
                                          mean=bundle.mean, std=bundle.std, acts=a))
fig, axes = plt.subplots(2, 6, figsize=(11, 4.4), dpi=70, layout="constrained")
for row, tp in zip(axes, patch_rows):
    for ax, patch, value, n in zip(row, tp.patches, tp.values, tp.image_index):
        ax.imshow(patch.permute(1, 2, 0).numpy())
        ax.set_title(f"{photo_names[int(n)]}  {float(value):.2f}", fontsize=9)
    for ax in row:
        ax.axis("off")
    row[0].text(-0.1, 0.5, f"{tp.layer}\n通道 {tp.channel}", transform=row[0].transAxes, ha="right", va="center")
fig.suptitle(f"{bundle.name}：激活最强的图块（感受野剪自 {len(photos)} 张课程照片，标题：照片名与激活值）")
plt.show()
for tp in patch_rows:
    f = tp.field
    print(f"{tp.layer} channel {tp.channel}: receptive field {f.size}x{f.size} px, stride {f.stride} px; "
          f"top activations {[round(float(v), 3) for v in tp.values]}")

# %% [markdown] slideshow={"slide_type": "-"}
# 感受野是**量出来的**：对该层中心格子的所有通道求对输入的梯度，梯度不为 0 的像素就是这个格子依赖的像素（`receptive_field`，单元测试用玩具网络的卷积、池化算术核对过）。
# 越深的层感受野越大；只有 6 张照片时，深层的“最强图块”差不多就是整张照片，说明不了多少——图块方法需要大量图片，这正是玩具世界的用处。
# 下面在 500 张玩具图片（种子 7，每张一个形状，训练时没见过）上，看 `gap` 网络最后一块里被网络解剖标为“五角星”的通道：

# %% slideshow={"slide_type": "subslide"}
stored, stored_images = cache.load()
world = toy_concepts(stored["dissection"]["n"], stored["dissection"]["seed"])  # 500 images + 20 concept masks
gap_net = shapes.load_net("gap")
gap_layers = toy_layers(gap_net)
star_channel = stored["toy_fv"]["gap"]["channel"]
tp_star = patches.top_patches(gap_net, gap_layers, 3, star_channel, world.images, k=8)
fig, axes = plt.subplots(1, 8, figsize=(11, 1.9), dpi=70, layout="constrained")
for ax, patch, value, n in zip(axes, tp_star.patches, tp_star.values, tp_star.image_index):
    ax.imshow(patch.permute(1, 2, 0).numpy())
    ax.set_title(f"{shapes.CLASSES[int(world.labels[n, 0])]} {float(value):.2f}", fontsize=9)
    ax.axis("off")
fig.suptitle(f"gap features.3 通道 {star_channel}：最强的 8 个图块（{tp_star.field.size}×{tp_star.field.size} 像素；标题：图中形状与激活值）")
plt.show()
shown_classes = [shapes.CLASSES[int(world.labels[n, 0])] for n in tp_star.image_index]
print(f"classes under the top 8 patches: {shown_classes}; stars: {shown_classes.count('star')} of 8 "
      f"(stars are {float((world.labels[:, 0] == 3).float().mean()):.3f} of the images)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 特征可视化：让通道自己“画”出来
#
# 直接对像素做梯度上升，得到的是人眼看不出规律的高频噪声。Olah 等人的做法（`helpers.channels.fv`，实现时对照了他们的 Lucid 库）：
#
# - **傅里叶参数化**（Fourier parameterization）：优化图像的频谱而不是像素，并按频率缩放，低频和高频一样容易改变；
# - **颜色去相关**（decorrelated colour）：三个颜色通道按 ImageNet 的颜色相关矩阵的平方根混合，再经 sigmoid 落到 0～1；
# - **变换鲁棒性**（transformation robustness）：每一步先随机平移（jitter）、缩放、小角度旋转，只留下经得起小变换的图案；
# - 前 16 步让梯度“绕过”关着的 ReLU（Lucid 的做法），否则在灰图上为 0 的通道一点梯度都没有。
#
# 优化器是 Adam，步数和学习率见下面的打印；模型的参数不变（只对频谱求梯度）。检验标准：优化出的图要比**每一张**数据图片、也比随机噪声更能激活这个通道（打印比值）。

# %% slideshow={"slide_type": "subslide"}
fv_store = stored["bundled_fv"]
lite = bundle if bundle.name == fv_store["model"] else load_model(fv_store["model"], source="bundled")
small = torch.nn.functional.interpolate(patches.photo_batch(lite)[0], size=fv_store["data_size"],
                                        mode="bilinear", antialias=True, align_corners=False)  # the photos at the same size
fig, axes = plt.subplots(1, len(fv_store["entries"]), figsize=(11, 3.3), dpi=70, layout="constrained")
for ax, e in zip(axes, fv_store["entries"]):
    fv_image = stored_images[cache.key(fv_store["model"], e["layer"], e["channel"])]  # (3, 128, 128)
    if e["objective"] == "class":
        with torch.no_grad():
            live = float(lite.model(patches.normalize(fv_image[None], lite.mean, lite.std))[0, e["channel"]])
        title = f"类别 {e['channel']}（{e['category']}）"
    else:
        live = float(fv.channel_scores(lite.model, lite.feature_layers, e["layer"], e["channel"], fv_image[None],
                                       mean=lite.mean, std=lite.std)[0])
        title = f"{e['layer']} 通道 {e['channel']}"
    assert abs(live - e["ours"]) <= 1e-3 * max(1.0, abs(e["ours"])), (live, e["ours"])  # live == stored
    ax.imshow(fv_image.permute(1, 2, 0).numpy())
    ax.set_title(f"{title}\n是最强照片的 {e['ratio_data']:.2f} 倍", fontsize=9)
    ax.axis("off")
fig.suptitle(f"{fv_store['model']} 的特征可视化（{fv_store['settings']['size']}² 像素，{fv_store['settings']['steps']} 步，学习率 {fv_store['settings']['lr']}）")
plt.show()
fv_settings = fv_store["settings"]
print(f"{fv_store['model']}, {fv_settings['size']}x{fv_settings['size']}, {fv_settings['steps']} Adam steps, "
      f"lr {fv_settings['lr']}; "
      f"scores recomputed live from the stored images = stored")
for e in fv_store["entries"]:
    noise = f"best of 16 noise images {e['best_noise']:.3f}" + (
        f", ratio {e['ratio_noise']:.3f}" if e["ratio_noise"] else "")
    print(f"  {e['layer']:<10s} {e['objective']:<7s} {e['channel']:4d}: optimized {e['ours']:.3f} | best photo "
          f"{e['best_data']:.3f} -> ratio {e['ratio_data']:.3f} | {noise}")

# %% [markdown] slideshow={"slide_type": "-"}
# 比值大于 1 只说明“优化成功了”：这张图是通道的**一个**最大化输入，不是它唯一的含义；换一个随机种子，图会不同。
#
# 在玩具网络上可以再检验一步：网络解剖说通道 `star_channel` 是“五角星”检测器，那它的特征可视化里是否真的更像五角星？
# 用六种形状的模板（各 7 种大小、24 个旋转角度）在图上每个位置滑动，取最大的归一化互相关（`template_scores`），比较六个分数。
# 这个“裁判”先要自己过关：它在真实的玩具图片上能认对多少张（已知答案），以及在一个**人工植入**的五角星检测器（卷积核就是五角星模板，`template_net`）的特征可视化上，能不能认出五角星。
# 下面先现场重算 `gap` 这次优化的前 6 步，与存档的逐步目标值比对。只比前几步，因为梯度上升会放大浮点舍入：同一段代码在 AVX2 和 AVX-512 两种 CPU 上（加法顺序不同），目标值在前 6 步相差不到 1e-5，第 8 步已超过 1e-3，到第 29 步相差 1.5%（本项目实测，见 `benchmarks/RESULTS.md`）。后面的步数与最终的图以存档为准：

# %% slideshow={"slide_type": "subslide"}
toy_store = stored["toy_fv"]
live_steps = 6  # the first 6 of the stored run's steps, recomputed live (later ones move with the CPU's rounding)
v_live = fv.visualize(gap_net, gap_layers, 3, star_channel, **{**toy_store["gap"]["settings"], "steps": live_steps})
same_start = np.allclose(v_live.history, toy_store["gap"]["history"][:live_steps], rtol=1e-3, atol=1e-3)
assert same_start, "the live optimization does not retrace the stored one"
fig, axes = plt.subplots(1, 2, figsize=(6, 3), dpi=70, layout="constrained")
for ax, kind in zip(axes, ("gap", "vgg")):
    e = toy_store[kind]
    ax.imshow(stored_images[cache.key(kind, "features.3", e["channel"])].permute(1, 2, 0).numpy())
    ax.set_title(f"{kind} features.3 通道 {e['channel']}\n“五角星”IoU {e['star_iou']:.3f}", fontsize=9)
    ax.axis("off")
plt.show()
acc = stored["template_accuracy"]
check = stored["template_check"]
planted = check["planted"]
print(f"judge on {acc['images']} held-out toy images: right on {acc['right']} (chance {1 / len(shapes.CLASSES):.3f})")
for setting, row in planted.items():
    print(f"planted matched filters, centre-cell visualization, {setting}: shape -> judged "
          f"{row}; right {sum(k == v for k, v in row.items())} of {len(row)}")
fv_prefers = {}
for kind in ("gap", "vgg"):
    e = toy_store[kind]
    shape_scores = dict(zip(shapes.CLASSES, e["template"]))
    fv_prefers[kind] = max(shape_scores, key=shape_scores.get)
    drawn = dict(zip(shapes.CLASSES, e["drawn"]))
    drawn_rank = sorted(drawn, key=drawn.get, reverse=True)
    print(f"{kind} channel {e['channel']}: activation ratio to the best of {stored['dissection']['n']} toy images "
          f"{e['ratio_data']:.3f}, to noise {e['ratio_noise']:.3f}; template scores of its visualization "
          f"{ {k: round(v, 3) for k, v in shape_scores.items()} } -> preferred: {fv_prefers[kind]}; "
          f"mean activation on clean drawings {({k: round(v, 3) for k, v in drawn.items()})} -> "
          f"strongest: {drawn_rank[0]} ({drawn[drawn_rank[0]] / drawn[drawn_rank[1]]:.2f} x {drawn_rank[1]})")
toy_check = check["toy"]
toy_hits = sum(v["label"] == v["preferred"] for v in toy_check.values())
print(f"all {len(toy_check)} shape-labelled channels of the last blocks of gap and vgg: the judge prefers the "
      f"dissection label in {toy_hits} ({toy_hits / len(toy_check):.3f}; chance {1 / len(shapes.CLASSES):.3f})")
print(f"gap: the first {live_steps} steps recomputed live retrace the stored run's objective: {same_start}")

# %% [markdown] slideshow={"slide_type": "-"}
# 怎么读上面的打印（结论由下一个单元格从这些数字打印出来）：
#
# - 第一、二行检验**裁判**：真实图片认对几张；植入的检测器加不加变换鲁棒性（随机平移、缩放、旋转）时各认对几个。变换让优化出的图在小变换下都要有效，尖角会被磨圆；
# - 接下来两行是训练出的“五角星”通道：它的特征可视化像哪种形状，以及它在**干净的形状图**（单一灰度、无纹理，`shape_drawings`）上最喜欢哪种形状；
# - 最后一行把同样的检验做到两个网络最后一块里所有被解剖标成某种形状的通道上，与随机猜（1/6）比。
#
# 网络解剖的“标签”（在真实图片上和哪个概念重合）和特征可视化的“画像”（什么输入让它最兴奋）是两种不同的证据，不能互相代替：
# 上面 `gap` 通道的图里是铺满感受野的局部小图案，而不是一个完整的形状。

# %% slideshow={"slide_type": "-"}
planted_bare, planted_tf = planted["no transforms"], planted["transforms"]
bare_hits = sum(k == v for k, v in planted_bare.items())
tf_hits = sum(k == v for k, v in planted_tf.items())
chance = 1 / len(shapes.CLASSES)
star_fv_ok = [kind for kind in fv_prefers if fv_prefers[kind] == "star"]
drawn_best = {kind: shapes.CLASSES[int(np.argmax(toy_store[kind]["drawn"]))] for kind in ("gap", "vgg")}
print(f"裁判：{acc['images']} 张真实玩具图片认对 {acc['right']} 张"
      f"（{'可靠' if acc['right'] >= 0.9 * acc['images'] else '不可靠'}）；植入的六个检测器，不加变换认对 {bare_hits} 个"
      f"（五角星判为“{planted_bare['star']}”），加变换认对 {tf_hits} 个（五角星判为“{planted_tf['star']}”）"
      + ("：变换鲁棒性磨圆了尖角，这个检验在加变换的可视化上测不出形状。" if tf_hits < bare_hits else "。"))
print(f"训练出的“五角星”通道：在干净形状图上最喜欢的形状 gap {drawn_best['gap']}、vgg {drawn_best['vgg']}；"
      f"特征可视化被判为五角星的网络：{'、'.join(star_fv_ok) or '没有'}（gap 判为 {fv_prefers['gap']}，vgg 判为 {fv_prefers['vgg']}）。")
print(f"全部 {len(toy_check)} 个形状通道中判对 {toy_hits} 个（{toy_hits / len(toy_check):.3f}，随机猜 {chance:.3f}）"
      + ("：与随机猜相当，特征可视化没有画出这些通道在图片上对应的完整形状。" if toy_hits / len(toy_check) < 2 * chance
         else "：明显高于随机猜。"))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 网络解剖：给每个通道贴标签
#
# Bau 等人的规则（`helpers.channels.dissect`）：
#
# 1. 对通道 $k$，在全部图片、全部位置的激活值（上采样之前的特征图）里取**上 0.5% 分位数** $T_k$（$P(a_k > T_k) = 0.005$）作阈值；
# 2. 把每张特征图双线性上采样到原图大小，$a_k > T_k$ 的像素就是通道的“高激活区域” $M_k$；
# 3. 与每个概念的掩码 $L_c$ 在整个图片集上算交并比 $\mathrm{IoU}_{k,c} = \sum|M_k \cap L_c| \,/\, \sum|M_k \cup L_c|$；
# 4. IoU 最大的概念就是通道的标签；最大 IoU 超过 0.04 才算一个**检测器**（detector）；一层的检测器一共指向几个不同的概念，叫作**唯一检测器数**（unique detectors）。
#
# 20 个概念：六种形状、“形状内部”与“背景”、背景条纹的四个方向、RGB 立方体八个角的颜色。
# 固定 0.5% 的阈值有一个直接的后果：一个概念占全部像素的比例为 $f$ 时，即使通道完美地只在这个概念上激活，IoU 最多也只有 $0.005/f$。
# 方法本身先在一个**手工搭建**的网络上检验过（单元测试）：八个通道被直接设成八种颜色的检测器，IoU ≥ 0.9；随机卷积核的通道 IoU < 0.2。下面先现场重算 `gap` 最后一块，与存档比对：

# %% slideshow={"slide_type": "subslide"}
live_d = dissect.dissect(gap_net, gap_layers, [3], world.images, world.masks, world.names)["features.3"]
stored_d = cache.dissection(stored, "gap", "features.3")
print(f"gap features.3 recomputed live on {len(world.images)} images: largest |IoU difference| to the stored run "
      f"{agreement(float((live_d.iou - stored_d.iou).abs().max()), 1e-4)}")
assert torch.allclose(live_d.iou, stored_d.iou, atol=1e-4)
share = dict(zip(world.names, stored["dissection"]["share"]))
print("ceiling 0.005 / share for a perfect detector:",
      {c: round(dissect.BAU_TOP / share[c], 3) for c in ("star", "circle", "shape", "stripes |", "red")})

toy_kinds = list(stored["dissection"]["nets"])
block_names = [f"features.{i}" for i in range(4)]
dissections = {k: {b: cache.dissection(stored, k, b) for b in block_names} for k in toy_kinds}
fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=80, layout="constrained")
for k in toy_kinds:
    ax.plot(range(4), [dissections[k][b].unique_detectors() for b in block_names], "o-", label=k)
ax.set_xticks(range(4), [f"{b}\n({len(dissections['gap'][b].best)} 通道)" for b in block_names])
ax.set_ylabel("唯一检测器数（IoU > 0.04）")
ax.set_xlabel("层（由浅到深）")
ax.set_title(f"三个玩具网络：唯一检测器随深度的变化（{stored['dissection']['n']} 张图，20 个概念）")
ax.legend(title="网络")
plt.show()
for k in toy_kinds:
    rows = []
    for b in block_names:
        d = dissections[k][b]
        rows.append(f"{b}: {len(d.detectors())}/{len(d.best)} detectors, unique {sorted(set(d.detectors().values()))}")
    print(k, "|", " | ".join(rows))

# %% slideshow={"slide_type": "subslide"}
d3 = dissections["gap"]["features.3"]
book_style = np.linspace(0, len(d3.best) - 1, 4).round().astype(int).tolist()  # like pick_channels for < 61 channels
found_by_picks = {d3.label(c)[0] for c in book_style if float(d3.best_iou[c]) > dissect.DETECTOR_IOU}
all_found = set(d3.detectors().values())
poly = int(((d3.iou > dissect.DETECTOR_IOU).sum(dim=1) >= 2).sum())
unlabelled = int((d3.best_iou <= dissect.DETECTOR_IOU).sum())
print("gap features.3, channels picked the book's way", book_style, "->",
      [(c, d3.label(c)[0], round(d3.label(c)[1], 3)) for c in book_style])
print(f"the 4 fixed picks find {len(found_by_picks)} of the {len(all_found)} concepts that this layer's "
      f"{len(d3.detectors())} detectors name; {poly} of {len(d3.best)} channels pass 0.04 for two or more concepts; "
      f"{unlabelled} channels are no detector of any of the 20 concepts")
shuffled_shapes = len(set(dissections["vgg_shuffled"]["features.3"].detectors().values()) & set(shapes.CLASSES))
gap_shapes = len(all_found & set(shapes.CLASSES))
print(f"shape concepts with a detector in the last block: gap {gap_shapes}, "
      f"vgg {len(set(dissections['vgg']['features.3'].detectors().values()) & set(shapes.CLASSES))}, "
      f"vgg_shuffled (trained on shuffled labels) {shuffled_shapes}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 怎么读（结论由下一个单元格从上面的数字打印出来）：
#
# - **随深度的变化**：比较各层的唯一检测器数和它们指向的概念（颜色、条纹还是形状）。这给了教材的描述（“低层的网络层能提取局部的纹理特征和边缘特征”“高层的网络层则提取抽象的全局语义特征”）一个可以量的版本：哪一层、多少个通道、对哪个概念、IoU 多少；
# - **标签从哪里来**：`vgg_shuffled` 与 `vgg` 结构相同，只是用打乱的标签训练（9.4 节的数据随机化检验），比较它们最后一块的形状检测器；
# - **按固定编号挑通道**（教材的 0、20、40、60 那种挑法）能看到一层里多少个概念；
# - **网络解剖量不到的**：只能量**标注过**的概念（这里 20 个；网络可能用着我们没标注的特征，例如形状的边缘、角）；
#   一个通道可能同时对几个概念有反应（**多义**，polysemantic）；IoU 受 0.5% 阈值和概念面积的影响，不同大小的概念之间不好直接比；
#   它说明通道和概念“重合”，不说明网络在分类时**用到**了这个通道（那是 9.2 节起的类激活图、9.4 节的忠实度要回答的问题）。

# %% slideshow={"slide_type": "-"}
depth = {k: [dissections[k][b].unique_detectors() for b in block_names] for k in toy_kinds}
print(f"唯一检测器数（由浅到深）：" + "；".join(f"{k} {depth[k]}" for k in toy_kinds))
print(f"gap 最后一块的检测器指向 {gap_shapes} 种形状；打乱标签训练的 vgg_shuffled 指向 {shuffled_shapes} 种。")
print(f"按固定编号挑的 {len(book_style)} 个通道只碰到这一层 {len(all_found)} 个概念中的 {len(found_by_picks)} 个；"
      f"{poly} 个通道对两个以上概念都超过 0.04（多义），{unlabelled} 个通道不是任何已标注概念的检测器。")

# 所以教材的问题并没有被“解决”：这些方法把“看图猜”变成了有阈值、有数字、可以复现的测量，但每种方法只回答问题的一部分。
#
# 下面的浏览器把三种方法放在一起：拖动层和通道，看 `gap` 网络的最强图块（来自前 100 张玩具图片）、网络解剖标签；点按钮现场计算特征可视化（64² 像素，约几秒）。
# 后面“交互探索”里的 9.1 浏览器也有同样的面板（展开“这个通道看到了什么”），用的是本节的模型和课程照片。

# %% slideshow={"slide_type": "-"}
toy_explorer = widgets.channel_explorer(gap_net, gap_layers, world.images[:100], dissections=dissections["gap"],
                                        fv_size=64, fv_steps=128)
toy_explorer.channel.value = star_channel
toy_explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误汇总（例 9.1）
#
# > **勘误**：下表逐行引用例 9.1 的代码（照教材排印的样子），说明问题和改法；本笔记本的代码都已改正。完整的全章勘误见 `docs/errata.md`。
# >
# > | 教材原文 | 问题 | 改正 | 本笔记本 |
# > | --- | --- | --- | --- |
# > | `model = models.vgg16_bn(pretrained=True) #加载 VGG16` | `pretrained` 自 torchvision 0.13 起弃用，会警告，将被删除 | `models.vgg16_bn(weights=models.VGG16_BN_Weights.IMAGENET1K_V1)` | 第 1 步 |
# > | `fn = path + '\\' + name` | 只能在 Windows 上运行 | `pathlib.Path(path) / name`，或课程的 `load_image(...)` | 第 3 步 |
# > | `transforms.Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])` | 不是模型训练时的归一化（VGG：ImageNet 统计量；课程模型：0.5/0.5） | `bundle.preprocess` | 第 3 步 |
# > | `cmap = cm.get_cmap('jet')` | Matplotlib 3.9 已删除 `cm.get_cmap`，`AttributeError` | `matplotlib.colormaps['jet']` | 第 5 步 |
# > | `img = cmap(img)[:,: , 1:] #使用调色板` | 取到 G、B、A，颜色错开一个通道；教材对调色板的描述（淡蓝 → 红 → 深蓝）描述的正是错位的调色板 | `cmap(img)[..., :3]` | 第 5 步（调色板图） |
# > | `return`（排在 `showImg` 函数体外） | 照抄是 `SyntaxError: 'return' outside function`；**可能是文字提取丢了缩进**，不一定是教材的错 | 缩进到函数里 | 第 5 步 |
# > | `img = np.array(channel_img.data).astype(np.uint8)` | 原理上：模型放到 GPU 上时 `np.array` 不能转换 CUDA 张量；在 CPU 上没问题 | `channel_img.detach().cpu().numpy()` | 第 5 步 |
# > | `Img44_60 = out[0, 60]`，后面用 `img44_60` | Python 区分大小写，`NameError` | 统一写成 `img44_60` | 图 9-5 |
# > | `img44_60 = (img44_60-img44_60.min())/(img44_60.max()-img44_60.min())` | 没有 `showImg` 那样的保护，全为 0 的通道得到 NaN | 先判断分母（`helpers.arrays.minmax`） | 图 9-5 |
# > | `over_img = img44_60.resize((h,w), resample=Image.BICUBIC)` | PIL 要 `(w, h)`：方形照片 h = w，恰好是对的；非方形照片得到宽、高对调的图，混合时 `ValueError` | `resize((w, h))`，`w, h = image.size` | 图 9-5（方形的 `cat_and_cup` 与非方形的猫） |
# > | `over_img = np.array(over_img)*255` / `over_img = over_img.astype(np.uint8) #归一化到[0,255]范围内` | 双三次插值过冲到 [0, 1] 之外，转 `uint8` 时绕回，最亮处出现最暗的斑点 | 先 `np.clip(..., 0, 255)` 再转换 | 图 9-5（被绕回的像素数） |
# > | `origin_over_img = Image.fromarray((a * origin_img + (1 - a) * over_img).astype(np.uint8))` | 热力图铺满整张照片，而模型只看了中心裁剪的 224×224 | 只叠在 `bundle.crop_box` 给出的区域（`viz.overlay_box`） | 图 9-6 |
# > | 两段 `for k,m in enumerate(cnn_layers): out = m(out)` | 不是错误：画图 9-5 时整个前向又跑了一遍 | 跑一遍，把要用的输出存下来（存时 `clone()`） | 第 4 步 |
#
# 教材的 `showImg` **有**防止 0/0 的保护（`if max_min == 0: max_min = 1e-6`）；没有保护的是图 9-5 的代码和例 9.2、9.3 的类激活图代码。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 交互探索：任意层、任意通道
#
# 下面的浏览器对当前图片只做**一次**前向，把所有层的输出缓存起来；拖动滑块只是重新画图，所以很快。
#
# - **层**：第几层（0 是最浅层）；下方文字给出层名、类型和输出形状；
# - **通道**：第几个通道，最大值随该层的通道数变化（换层时会自动收回到范围内）；
# - **照片权重 α**：叠加时原图所占的比例，例 9.1 用 0.7（例 9.2、9.3 用 0.6）；
# - 切换“单通道叠加到照片”或“前 16 / 64 个通道”的网格；
# - **通道顺序**：“按平均激活从大到小”时，通道滑块 0 就是这层最活跃的通道，网格也按这个顺序排；
# - 在下拉框里换示例图片，或上传自己的照片（上传的不是图片时会提示，并保留上一张）。
#
# 照片显示的是模型实际看到的中心裁剪区域。没有运行内核（例如在网页上静态查看）时，滑块不能拖动。

# %% slideshow={"slide_type": "-"}
explorer = widgets.feature_map_explorer(bundle, "cat")  # a sample name or a PIL image
explorer

# %% [markdown] slideshow={"slide_type": "skip"}
# 浏览器也可以用代码驱动，例如跳到图 9-3 用的那一层，看它最活跃的通道：

# %% slideshow={"slide_type": "skip"}
explorer.layer.value = second_conv
explorer.channel.value = 0
print(explorer.describe())

# %% [markdown] slideshow={"slide_type": "subslide"}
# 动手试试：
#
# 1. 在最后一层按“平均激活从大到小”看前几个通道，它们亮的位置是不是都在猫身上？换成咖啡杯（coffee）呢？
# 2. 从第 0 层一路拖到最后一层，特征图从“看得出是猫”到“看不出是什么”，大约在哪一层发生？
# 3. 切到“前 64 个通道”，比较浅层和深层里全蓝（全为 0）的格子有多少，和第 7 步的统计对得上吗？

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 练习
#
# 练习 2–4 各写一个函数，下一个单元格用几组随机生成的**公开测试输入**（每次都是同一组）检查它，立即给出 ✓ 或 ✗ 和提示；评分时换成新的随机输入。
# 通过以后，再把你的函数用到本节的模型上。练习 1 和练习 5 是概念题：先写下预测（第一次的预测会被记录），再运行实验；解释由老师评分。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 1（概念题）：先预测，再运行——`showImg` 为什么要平方？
#
# 教材的 `showImg` 在归一化到 0～1 之后做了一次平方：`channel_img = (channel_img**2)*255`（例 9.2 的注释说，平方“是为了降低小特征值的干扰”）。
# 设想一个通道的值在 0～1 之间**均匀分布**（ReLU、归一化之后）。**不要运行代码**，先回答：
#
# 1. `predict_below_middle()`：平方之后，有多大比例的像素落在调色板的下半段（值 < 0.5，`jet` 的蓝、青一侧）？返回一个 0～1 之间的数（三位小数）；
# 2. `explain_square()`：测量之后，用两三句话说明平方对读图的影响：它让哪些值看起来更“冷”，这会不会让人把一个通道读成“只在一小块有反应”？引用打印出的数。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_below_middle() -> float:
    """Share of a uniform [0, 1] channel shown below 0.5 once showImg squares it."""
    # Model answer: v**2 < 0.5 <=> v < sqrt(0.5) = 0.707, so 0.707 of the pixels (0.5 without the square).
    return 0.707


def explain_square() -> str:
    """Two or three sentences on what squaring does to the picture, citing the numbers."""
    return ("平方把小于 1 的值压得更小：v² < 0.5 等价于 v < 0.707，所以均匀分布的通道有 0.707 的像素显示在下半段，不平方只有 0.5。"
            "中等的响应看起来也是冷色，只剩最强的一小块是暖色，一个处处有反应的通道可能被读成“只在一小块有反应”；"
            "读图时要记得颜色表示的是平方后的值。")


# %% slideshow={"slide_type": "skip"}
ramp = torch.linspace(0, 1, 100001)[None, None, :]  # (1, 1, n): a channel uniform in [0, 1]
squared = viz.prepare_maps(ramp, square=True)  # showImg's numbers: ReLU, min-max, square
measured_share = round(float((squared < 0.5).mean()), 3)
if concepts.check_prediction("平方之后落在下半段的比例", predict_below_middle, measured_share, tol=0.01,
                             hint="v² < 0.5 时 v 要小于多少？"):
    real = outputs[1][0, top][None]  # (1, h, w): the channel of the colour comparison above
    print(f"uniform channel: below 0.5 with the square {measured_share:.3f}, "
          f"without {float((viz.prepare_maps(ramp, square=False) < 0.5).mean()):.3f}")
    print(f"the channel of 第 5 步 ({layer_names[1]}, channel {top}): below 0.5 with the square "
          f"{float((viz.prepare_maps(real, square=True) < 0.5).mean()):.3f}, "
          f"without {float((viz.prepare_maps(real, square=False) < 0.5).mean()):.3f}")
    concepts.check_explanation("平方对读图的影响", explain_square)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：第一个输出 14×14 的层
#
# 给定每层的名字和输出形状 `[(name, (N, C, h, w)), ...]`，返回第一个满足 h = w = `size` 的层名；没有这样的层就返回 `None`。
# 检查函数除了随机生成的形状，还会用当前模型真实的各层形状来考你（检验你选的层是 14×14、它前面没有，不用存好的答案）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def first_layer_of_size(shapes: list, size: int) -> str | None:
    """Name of the first layer whose output is size x size, or None.

    Shapes:
        shapes: [(name, (N, C, h, w)), ...] in forward order.
    """
    for name, shape in shapes:
        if shape[2] == size and shape[3] == size:
            return name
    return None


# %% slideshow={"slide_type": "skip"}
if exercises.layers.check_first_layer_of_size(first_layer_of_size, bundle):
    layer_shapes = [(name, tuple(acts[name].shape)) for name in layer_names]
    print(f"{bundle.name}: first 14x14 layer is", first_layer_of_size(layer_shapes, 14))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：数一数“死”通道
#
# 第 7 步数的是**一张**猫的照片上 ReLU 后全为 0 的通道。可是一个通道在一张图上全为 0，不等于它“死”了：换一张图，它可能就有反应。
# 写出 `count_dead_channels(acts)`：`acts` 是同一层在 N 张图上的输出 `(N, C, h, w)`（也可能只有一张图，`(C, h, w)`），
# 返回在**每一张**图上 ReLU 后都全为 0 的通道个数。检查用的随机输入里，有的通道只在第一张图上为 0，有的只在最后一张图上有一个像素大于 0。
# 检查通过后，下一个单元格用你的函数数咖啡和火箭两张照片在最后一层的“死”通道（猫的照片前面已经数过），再数在三张照片上都是 0 的通道。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def count_dead_channels(acts: torch.Tensor) -> int:
    """Number of channels that are all zero after ReLU on every image.

    Shapes:
        acts: (N, C, h, w) or one image (C, h, w).
    """
    a = acts.reshape(-1, *acts.shape[-3:]).transpose(0, 1).flatten(1)  # (C, N*h*w)
    return int((a.max(dim=1).values <= 0).sum())


# %% slideshow={"slide_type": "skip"}
if exercises.layers.check_count_dead_channels(count_dead_channels):
    photos = {}
    for name in ("coffee", "rocket"):  # photos whose count no cell above has printed
        photos[name] = hooks.capture_activations(model, bundle.to_input(load_image(name)),
                                                 bundle.feature_layers)[layer_names[last]]  # (1, C, 7, 7)
        print(f"{layer_names[last]}, {name} photo: {count_dead_channels(photos[name])} of"
              f" {channels[last]} channels are all zero after ReLU")
    three = torch.cat([acts[layer_names[last]], *photos.values()])  # (3, C, 7, 7): cat, coffee, rocket
    print(f"all zero on the cat, the coffee and the rocket alike: {count_dead_channels(three)} of {channels[last]}"
          f" channels (dead for these photos, not necessarily for every input)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 4：最活跃的通道
#
# 返回 ReLU 后平均激活最大的 `k` 个通道的编号，从大到小排列。浏览器里的“按平均激活从大到小”就是这样排的。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def top_channels(acts: torch.Tensor, k: int) -> list[int]:
    """Indices of the k channels with the largest mean activation after ReLU, largest first.

    Shapes:
        acts: (C, h, w); returns k indices.
    """
    means = acts.clamp(min=0).mean(dim=(1, 2))  # (C,)
    return means.argsort(descending=True)[:k].tolist()


# %% slideshow={"slide_type": "skip"}
if exercises.layers.check_top_channels(top_channels):
    best = top_channels(acts[layer_names[last]][0], 5)
    print(f"{layer_names[last]}: most active channels {best}")
    assert best == explorer.ranks(layer_names[last])[:5].tolist()  # the explorer's order

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 5（概念题）：先预测，再运行——补零补在哪里？
#
# 一个小网络：`Conv2d(3, 8, 3, stride=2, padding=1)` → ReLU → `Conv2d(8, 8, 3, stride=2, padding=1)`（PyTorch 的补零：上下左右各补 1 行/列）。
# 输入是一张 32×32、处处为 1 的图，输出是 8×8。**不要运行代码**，先回答：
#
# 1. `prediction()`：8×8 的输出里，有几个格子（在至少一个通道上）和中心格子 (4, 4) 的值不同？返回一个整数；
# 2. `explanation()`：用两三句话说明你的推理，并和“边上亮的通道”实验里课程模型的结果（补零补在哪一边、亮的行跟不跟着图像走）对照，引用一个打印出的数。
#
# 第一次运行检查单元格时，你的预测会被记录下来（写进 `predictions.json`），然后才显示测量结果；之后改答案，记录不变。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def prediction() -> int:
    """How many of the 8x8 output cells differ from the centre cell?"""
    # Model answer: 15. With stride 2 on an even side, output row i reads input rows 2i-1..2i+1:
    # only row 0 reaches the padding (row -1); the last row reads rows 29..31, all inside. The same
    # for columns, and again in the second layer: row 0 and column 0 differ, 8 + 8 - 1 = 15 cells.
    return 15


def explanation() -> str:
    """Two or three sentences: the reasoning, and the link to the border experiment."""
    return ("步长 2、边长为偶数时，输出第 i 行读输入的第 2i-1 到 2i+1 行，只有第 0 行碰到补的零，最后一行读的是 29～31 行，不碰补零；"
            "第二层同样，所以只有最上一行和最左一列和中心不同：8 + 8 - 1 = 15 个格子，不是一整圈 28 个。"
            "课程模型的 SAME 补零正好相反，只补下边和右边；而且照片翻转后，大多数最下一行亮的通道跟着跑到了最上一行，说明它们对的是内容。")


# %% slideshow={"slide_type": "skip"}
torch.manual_seed(0)
pad_net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1))
with torch.no_grad():
    pad_out = pad_net(torch.ones(1, 3, 32, 32))[0]  # (8, 8, 8)
differs = ((pad_out - pad_out[:, 4:5, 4:5]).abs() > 1e-6).any(dim=0)  # (8, 8)
measured = int(differs.sum())
if concepts.check_prediction("两层步长 2 的卷积：几个格子和中心不同", prediction, measured, tol=0,
                             hint="写出输出第 0 行和最后一行各读输入的哪几行：哪一行碰得到补的零？"):
    print("cells that differ (1) and not (0):")
    print(differs.int().numpy())
    concepts.check_explanation("为什么", explanation)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 6（预测题）：放宽网络解剖的阈值
#
# “这个通道看到了什么”一节里，`gap` 最后一块的通道 `star_channel` 被标为“五角星”，用的是 Bau 的阈值：每个通道激活最高的 0.5% 的像素。
# 五角星只占全部像素的不到 1%（那一节打印了 `share`）。**不要运行代码**，先预测：把阈值放宽到激活最高的 **5%**，这个通道对“五角星”的 IoU 会**变大**吗？
# `prediction_threshold()` 返回 `True`（变大）或 `False`（不会变大）。下一个单元格现场测量。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def prediction_threshold() -> bool:
    """Does the star channel's IoU with "star" grow when the threshold keeps the top 5 % instead of 0.5 %?"""
    # Model answer: False. Stars cover under 1 % of the pixels, so a 5 % mask is over 5 times larger
    # than the star masks: even a perfect star detector would score at most share / 0.05.
    return False


# %% slideshow={"slide_type": "skip"}
star = world.names.index("star")
gap_acts = patches.layer_activations(gap_net, gap_layers, 3, world.images)  # (500, 32, 8, 8)
wide = dissect.dissect_acts(gap_acts[:, [star_channel]], world.masks[:, [star]], ["star"], top=0.05)
grows = bool(float(wide.iou[0, 0]) > float(d3.iou[star_channel, star]))
if concepts.check_prediction("放宽阈值后 IoU 变大吗", prediction_threshold, grows,
                             hint="IoU = 交集 ÷ 并集。通道的掩码占 5% 的像素，五角星只占不到 1%：并集至少有多大？"):
    print(f"star channel {star_channel}: IoU {float(d3.iou[star_channel, star]):.3f} at the top 0.5 %, "
          f"{float(wide.iou[0, 0]):.3f} at the top 5 %; a perfect star detector at 5 %: "
          f"{share['star'] / 0.05:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 7（测量题）：亲手算一个 IoU
#
# 写出网络解剖对**一个通道、一个概念**的打分：`acts` 是通道在 N 张图上的激活（已经上采样到掩码的大小），`mask` 是概念的掩码。
# 阈值 $T$ 是全部 $M$ 个激活值从小到大排的第 $\lceil (1-\text{top})\,M \rceil$ 个；通道的掩码是 `acts > T`；IoU 在整个图片集上一起数：交集像素数 ÷ 并集像素数。
# 检查通过后，用你的函数量 `star_channel` 对“五角星”的 IoU。注意网络解剖（照 Bau 等人的做法）在**上采样之前**的 8×8 特征图上取阈值，这里在上采样之后的图上取，所以下面打印三个数：你的、同样做法的 `dissect_acts`、上面网络解剖的结果。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def channel_iou(acts: torch.Tensor, mask: torch.Tensor, top: float) -> float:
    """IoU of one channel's top-quantile mask with one concept over a whole image set.

    Shapes:
        acts: (N, S, S); mask: (N, S, S) bool.
    """
    values = acts.flatten().sort().values
    t = values[int(np.ceil((1 - top) * values.numel())) - 1]
    on = acts > t
    return (on & mask).sum().item() / max((on | mask).sum().item(), 1)


# %% slideshow={"slide_type": "skip"}
if exercises.channels.check_channel_iou(channel_iou):
    up = torch.nn.functional.interpolate(gap_acts[:, [star_channel]], size=world.masks.shape[-2:],
                                         mode="bilinear", align_corners=False)[:, 0]  # (500, 64, 64)
    mine = channel_iou(up, world.masks[:, star], dissect.BAU_TOP)
    same = dissect.dissect_acts(up[:, None], world.masks[:, [star]], ["star"])  # T from the upsampled maps
    print(f"channel {star_channel} vs star: your IoU {mine:.3f}; dissect_acts on the same upsampled maps "
          f"{float(same.iou[0, 0]):.3f}; the dissection above (T from the 8x8 maps) {float(d3.iou[star_channel, star]):.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 小结
#
# 教材 9.4 节把本章内容归纳为三点：特征图进行可视化、用类激活图（CAM）、面向 NLP 任务的可视化方法。本笔记本是第一点：
#
# - 一个卷积核产生一个输出通道；把通道画成热力图，就能看到这个卷积核在图像的哪些位置有反应。低层的通道保留纹理和边缘，
#   高层的通道小而多，更抽象，要放大叠加到原图上才看得出大致位置；
# - 读图要有根据：颜色的含义取决于调色板（教材的 `[:, :, 1:]` 把颜色错开了一个通道）；`jet` 亮度不均匀，会造出假的边界；
#   一个通道全为 0、只在边上亮还是集中在一小块，要用数字说明，挑通道要说明标准；“只在边上亮”是不是边界效应，要移动图像再测一次（本节的测法）；
# - 例 9.1 的代码要改几处才能在今天的库上运行（见勘误汇总）；
# - 一个通道“表示了什么”可以部分地量出来：最强图块和特征可视化给出它偏好的输入，网络解剖在标注过的概念上给出 IoU 和标签（玩具网络上形状检测器集中在深层）；但只能量到标注过的概念，也说明不了网络是否用到了这个通道；
# - 教材在 9.1 节最后说：如何表示各通道表征的模式和内容，并对其进行有效的量化分析，**仍然是可解释深度模型需要进一步研究的问题**。
#   本节的图只能提示“这个卷积核对哪里有反应”，不能证明它“表示”了什么。
