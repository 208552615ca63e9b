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
# # 9.1 CNN 各网络层输出的可视化
#
# 教材第 9 章“面向解释的深度神经网络可视化方法”第 1 节，例 9.1。
#
# **学习目标**
#
# 1. 说清楚为什么要解释“黑盒模型”（black-box model），区分本身可解释性（intrinsic interpretability）与事后可解释性（post-hoc interpretability）；
# 2. 理解卷积层的输入、输出特征图（feature map）和通道（channel）之间的关系；
# 3. 按例 9.1 把预训练的卷积神经网络（Convolutional Neural Network, CNN）“拆开再组装”，逐层前向并打印每层输出的形状；
# 4. 用修好的 `showImg` 把任意一层的任意通道画成热力图（heat map），再上采样叠加到原图上（图 9-3 至图 9-6）；
# 5. 用前向钩子（forward hook）一次前向就拿到所有层的输出（9.2 节的预习）；
# 6. 用数字而不只用眼睛读图：每层有多少通道“什么也没提取到”，特征图的尺寸和通道数怎样随深度变化。

# %% slideshow={"slide_type": "skip"}
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

import helpers
from helpers import exercises, hooks, images, load_image, load_model, viz, widgets

helpers.setup()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 为什么要“打开黑盒”
#
# 深度神经网络的判断往往很准，但我们说不清它**为什么**这样判断：输入进去、结果出来，中间几百万个参数做了什么看不见，这就是所谓的**黑盒模型**。
# 在医疗、金融、自动驾驶这类场合，“说不清为什么”本身就是风险：模型可能抓住了错误的线索（例如靠背景里的雪地识别“狼”），而准确率数字看不出来。
#
# 让模型变得可解释，大致有两条路：
#
# - **本身可解释性**（intrinsic interpretability）：模型结构本身就容易看懂，例如线性模型、决策树，看权重或规则就知道它怎样做决定；
# - **事后可解释性**（post-hoc interpretability）：模型已经训练好（通常是复杂的深度网络），再用额外的方法去分析它，例如把中间层的输出画出来（本节）、画类激活图（9.2 节）、看注意力权重（9.3 节）。
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
# ### 第 4 步：让图片逐层前向，打印每层输出的形状
#
# `outputs[i]` 保存第 `i` 层的输出。注意 `clone()`：VGG 的 ReLU 是原地（in-place，`inplace=True`）操作，
# 如果只把张量本身放进列表，下一层的 ReLU 会把刚存进去的批归一化输出改掉。

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
# ### 第 5 步：教材的 `showImg`，修好并解释
#
# 教材用 `showImg` 把一个通道（一张 $h \times w$ 的图）画成热力图。下面按教材的写法摘出与勘误有关的几行（**这段不能运行**，问题见注释，细节以教材原文为准）：
#
# ```python
# import matplotlib.cm as cm
# def showImg(img):
#     img = img.detach().numpy()
#     img = np.maximum(img, 0)                            # ReLU
#     img = (img - img.min()) / (img.max() - img.min())   # 通道全为 0 时是 0/0
#     img = img ** 2
#     cmap = cm.get_cmap('jet')                           # Matplotlib 3.9 已删除 cm.get_cmap
#     img = cmap(img)[:, :, 1:]                           # 取到的是 G、B、A，不是 R、G、B
# return img                                              # 缩进错了：return 在函数外，SyntaxError
# ```
#
# 修好的版本，每一步的作用写在注释里：
#
# 1. **ReLU**：只保留正的响应（卷积核“被激活”的地方），负值置 0；
# 2. **最小-最大归一化**（min-max normalization）到 0～1，这样不同通道的图颜色可比；如果整个通道都是 0（**平坦通道**），直接返回全 0，不做 0/0；
# 3. **平方**：0～1 之间的数平方后小的更小，弱响应被压下去，强响应更突出；
# 4. **jet 色图**：0 是深蓝，1 是深红；`colormaps['jet'](img)` 返回 RGBA 四个通道，取前三个 `[..., :3]` 才是 RGB。

# %% slideshow={"slide_type": "subslide"}
def showImg(img: torch.Tensor) -> np.ndarray:
    """The textbook's showImg, fixed. Shapes: img (h, w) -> (h, w, 3) RGB in [0, 1]."""
    img = img.detach().cpu().numpy()  # (h, w); .cpu() also works when the model is on a GPU
    img = np.maximum(img, 0)  # ReLU: keep the positive responses
    span = img.max() - img.min()
    img = (img - img.min()) / span if span > 0 else np.zeros_like(img)  # flat: zeros, not 0/0
    img = img**2  # squaring suppresses weak responses
    cmap = matplotlib.colormaps["jet"]  # cm.get_cmap was removed in Matplotlib 3.9
    return cmap(img)[..., :3]  # (h, w, 3) RGB; the book's [:, :, 1:] keeps G, B, A


for i in (1, len(outputs) - 1):
    for c in range(outputs[i].shape[1]):  # every channel, flat ones included
        np.testing.assert_allclose(showImg(outputs[i][0, c]), viz.show_channel(outputs[i][0, c]),
                                   atol=1e-6)
print("showImg == viz.show_channel on every channel of layers", 1, "and", len(outputs) - 1)

# %% [markdown] slideshow={"slide_type": "-"}
# `viz.show_channel` 就是上面这个修好的 `showImg`，后面直接用它。
#
# 教材的 `[:, :, 1:]` 错在哪里？`cmap(img)` 的最后一维是 R、G、B、A（A 是不透明度，jet 里恒为 1）。
# 取 `1:` 得到 G、B、A，画出来时被当成 R、G、B：原来的绿色分量显示成红色，蓝色显示成绿色，而显示出的蓝色恒为 1，
# 整张图只剩青、蓝、品红几种颜色：弱响应是天蓝色，强响应反而是纯蓝色。
# 所以按 jet 色图（蓝弱红强）去读教材代码画出的图，颜色是对不上的，错开了一个通道。下面并排对比：

# %% slideshow={"slide_type": "subslide"}
shallow = outputs[1][0]  # (C, h, w), layer 1
top = int(shallow.clamp(min=0).mean(dim=(1, 2)).argmax())  # its most active channel
rgba = matplotlib.colormaps["jet"](viz.normalize(shallow[top].clamp(min=0)) ** 2)  # (h, w, 4)
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].imshow(rgba[:, :, 1:])
axes[0].set_title("教材 [:, :, 1:]（G、B、A）")
axes[1].imshow(rgba[..., :3])
axes[1].set_title("修正 [..., :3]（R、G、B）")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 图 9-3、图 9-4：第 2 个卷积层和最后一层的输出
#
# 教材画出第 2 个卷积层输出的第 0、20、40、60 个通道（图 9-3），以及最后一层输出的同样 4 个通道（图 9-4）。
# 代码里不写死层号，而是找“第 2 个含卷积的层”：在 VGG16-bn 上就是 `features.3`（教材的第 2 个卷积层）；
# 在 EfficientNet-Lite0 上是 `blocks.0.0`（紧跟在第一层卷积 `conv_stem` 后的深度可分离卷积块）。
# 某一层如果不到 61 个通道，通道号 60 就越界了，这时改为在该层均匀取 4 个通道，并打印实际用的通道号。

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


def show_four(i: int, figure: str) -> None:
    """Draw four channels of layer i with showImg, as the book's figures do."""
    acts = outputs[i][0]  # (C, h, w)
    channels = pick_channels(acts.shape[0])
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
    for ax, c in zip(axes, channels):
        ax.imshow(viz.show_channel(acts[c]))
        ax.set_title(f"通道 {c}" + ("（全为 0）" if float(acts[c].max()) <= 0 else ""))
        ax.axis("off")
    fig.suptitle(f"{figure}  cnn_layers[{i}]（{layer_names[i]}）的输出，形状 {tuple(outputs[i].shape)}")
    plt.tight_layout()
    plt.show()
    print(f"{figure}: layer {i} ({layer_names[i]}), channels {channels} of {acts.shape[0]}")


show_four(second_conv, "图 9-3")

# %% slideshow={"slide_type": "subslide"}
show_four(last, "图 9-4")

# %% [markdown] slideshow={"slide_type": "-"}
# 浅层（图 9-3）的特征图保留了猫的轮廓，有的通道对边缘有反应，有的对某种颜色或纹理有反应，还能认出原图；
# 最后一层（图 9-4）只有 7×7，每个格子对应原图上约 32×32 像素的一片，已经看不出形状，只剩下“哪一片区域让这个卷积核有反应”。
# 全是深蓝的格子说明该通道在 ReLU 后全为 0：这个卷积核在这张图上**什么也没提取到**。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 图 9-5、图 9-6：把深层的一个通道放大，叠加到原图上
#
# 7×7 的图太粗，看不出对应原图哪里。教材的做法：用双三次插值（bicubic interpolation）把它放大到原图大小（图 9-5），
# 再按 0.7（原图）+ 0.3（热力图）混合（图 9-6）。教材用的是最后一层的第 60 个通道；如果这个通道对这张图恰好全为 0，
# 画出来是一片深蓝，什么也看不出，这时改用平均激活最大的通道，并打印出来。
#
# > **勘误**：PIL 的 `resize` 参数是 `(宽, 高)`，即 `(w, h)`；教材写成 `(h, w)`。对不是正方形的照片，放大后的热力图形状和照片对不上（下面演示）。

# %% slideshow={"slide_type": "subslide"}
deep = outputs[last][0]  # (C, 7, 7)
k = 60 if deep.shape[0] > 60 else deep.shape[0] - 1
if float(deep[k].max()) <= 0:
    print(f"channel {k} is all zero after ReLU for this photo: use the most active channel instead")
    k = int(deep.clamp(min=0).mean(dim=(1, 2)).argmax())
print(f"layer {last} ({layer_names[last]}), channel {k}, map {tuple(deep[k].shape)}")
m = viz.normalize(deep[k].clamp(min=0)) ** 2  # showImg's numbers: ReLU, min-max, square; (7, 7)

w, h = image.size  # PIL gives (width, height)
big = Image.fromarray(m).resize((w, h), Image.Resampling.BICUBIC)  # (w, h) order!
big = np.clip(np.asarray(big), 0, 1)  # (h, w); bicubic can overshoot a little
heat = matplotlib.colormaps["jet"](viz.normalize(big))[..., :3]  # (h, w, 3)   图 9-5
photo = np.asarray(image, dtype=np.float32) / 255  # (h, w, 3)
blend = 0.7 * photo + 0.3 * heat  # (h, w, 3)   图 9-6
blend_img = Image.fromarray(np.clip(blend * 255 + 0.5, 0, 255).astype(np.uint8))

helper = viz.overlay(image, m, alpha=0.7)  # the same in one call: alpha = photo weight
assert np.abs(np.asarray(blend_img, dtype=int) - np.asarray(helper, dtype=int)).max() <= 1
print("step by step == viz.overlay(image, m, alpha=0.7)")

wrong = np.asarray(Image.fromarray(m).resize((h, w), Image.Resampling.BICUBIC))  # the book's order
print("photo:", photo.shape, "| map resized with (h, w):", wrong.shape)
try:
    0.7 * photo + 0.3 * matplotlib.colormaps["jet"](wrong)[..., :3]
except ValueError as err:
    print("ValueError:", err)

# %% [markdown] slideshow={"slide_type": "subslide"}
# 方形照片不会报错，但热力图被**转置**了（左右和上下对调），更难发现。
#
# 还有一处容易忽略：模型看到的只是中心裁剪出的 224×224 区域（见第 3 步），教材把热力图拉伸到整张照片上，
# 对不是正方形的照片，位置会偏。`images.crop_box` 给出这块区域在原图上的位置，把热力图只叠在这块区域上才是准确的（右图）；
# `viz.overlay_box` 一步完成同样的事（9.2 节会用到）。

# %% slideshow={"slide_type": "subslide"}
box = images.crop_box(image.size)  # (left, top, right, bottom) kept by Resize(256)+CenterCrop(224)
aligned = image.copy()
aligned.paste(viz.overlay(image.crop(box), m, alpha=0.7), box[:2])
assert np.array_equal(np.asarray(aligned), np.asarray(viz.overlay_box(image, m, box, outline=None)))
print("centre crop in the photo (left, top, right, bottom):", box)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), dpi=70)  # low dpi: photos make big PNGs
axes[0].imshow(heat)
axes[0].set_title(f"图 9-5  通道 {k} 双三次放大到 {w}×{h}")
axes[1].imshow(blend_img)
axes[1].set_title("图 9-6  0.7 原图 + 0.3 热力图")
axes[2].imshow(aligned)
axes[2].add_patch(plt.Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False,
                                edgecolor="white", linestyle="--"))
axes[2].set_title("只叠在模型看到的中心区域")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
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
# ## 勘误汇总
#
# > **勘误**：例 9.1 的代码在当前的库版本上有以下问题，本笔记本都已改正。
# >
# > | 教材写法 | 问题 | 改正 |
# > | --- | --- | --- |
# > | `models.vgg16_bn(pretrained=True)` | `pretrained` 自 torchvision 0.13 起弃用，会警告，将被删除 | `models.vgg16_bn(weights=models.VGG16_BN_Weights.IMAGENET1K_V1)` |
# > | `path + '\\' + name` 之类的 Windows 路径 | 只能在 Windows 上运行 | `pathlib.Path` 或本课程的 `load_image(...)`，任何系统、中文路径都可以 |
# > | `Normalize([0.5]*3, [0.2]*3)` | 只是 ImageNet 均值/标准差的近似；模型应看到它训练时的归一化（VGG：ImageNet 统计量；Lite0：0.5/0.5） | `bundle.preprocess` / `bundle.to_input` |
# > | `cm.get_cmap('jet')` | Matplotlib 3.9 已删除 `cm.get_cmap`，`AttributeError` | `matplotlib.colormaps['jet']` |
# > | `cmap(img)[:, :, 1:]` | 取到的是 G、B、A，颜色错开一个通道，教材对颜色的描述因此对不上 | `cmap(img)[..., :3]` |
# > | `showImg` 中 `(img - min) / (max - min)` | 通道全为 0 时是 0/0，得到 NaN | 先判断 `max > min`，否则返回全 0 |
# > | `return img` 写在 `showImg` 外面 | `SyntaxError: 'return' outside function` | `return` 缩进到函数体里 |
# > | `img.detach().numpy()` | 在 CPU 上没问题，模型放到 GPU 上时报错 | `img.detach().cpu().numpy()` |
# > | `Img44_60` 与 `img44_60` 混用 | Python 区分大小写，`NameError` | 统一写成 `img44_60` |
# > | `resize((h, w))` | PIL 要的是 `(w, h)`：非方形照片形状不匹配，方形照片被转置 | `resize((w, h))`，`w, h = image.size` |
# >
# > 另外要注意：逐层保存输出时要 `clone()`，否则原地 ReLU 会改掉已保存的张量；热力图只对应中心裁剪区域，应按 `images.crop_box` 对齐。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 交互探索：任意层、任意通道
#
# 下面的浏览器对当前图片只做**一次**前向，把所有层的输出缓存起来；拖动滑块只是重新画图，所以很快。
#
# - **层**：第几层（0 是最浅层）；下方文字给出层名、类型和输出形状；
# - **通道**：第几个通道，最大值随该层的通道数变化（换层时会自动收回到范围内）；
# - **照片权重 α**：叠加时原图所占的比例，教材用 0.7；
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
# 每个练习写一个函数，下一个单元格会用**随机生成的新输入**把你的函数和参考实现比较，立即给出 ✓ 或 ✗ 和提示；
# 通过以后，再把你的函数用到本节的模型上。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 1：`showImg` 的数值部分
#
# 写出 `showImg` 在上色之前的三步：ReLU、最小-最大归一化到 0～1（ReLU 后全为 0 的平坦通道返回全 0）、平方。输入输出都是 NumPy 数组。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def showimg_normalize(channel: np.ndarray) -> np.ndarray:
    """ReLU, min-max to [0, 1] (a flat channel gives zeros), then square.

    Shapes:
        channel: (h, w); returns (h, w).
    """
    a = np.maximum(channel, 0)
    span = a.max() - a.min()
    if span == 0:
        return np.zeros_like(a)
    return ((a - a.min()) / span) ** 2


# %% slideshow={"slide_type": "skip"}
if exercises.layers.check_showimg_normalize(showimg_normalize):
    a = outputs[1][0, top]  # (h, w), the channel of the colour comparison above
    assert np.allclose(showimg_normalize(a.cpu().numpy()), viz.normalize(a.clamp(min=0)) ** 2)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：第一个输出 14×14 的层
#
# 给定每层的名字和输出形状 `[(name, (N, C, h, w)), ...]`，返回第一个满足 h = w = `size` 的层名；没有这样的层就返回 `None`。
# 检查函数除了随机生成的形状，还会用当前模型真实的各层形状来考你（答案由模型算出，不是存好的）。

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
# 返回 ReLU 后整个通道都为 0 的通道个数（即最大值 ≤ 0 的通道）。输入是 `(C, h, w)` 或带 batch 维的 `(1, C, h, w)` 张量。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def count_dead_channels(acts: torch.Tensor) -> int:
    """Number of channels that are all zero after ReLU.

    Shapes:
        acts: (C, h, w) or (1, C, h, w).
    """
    a = acts.reshape(acts.shape[-3], -1)  # (C, h*w)
    return int((a.max(dim=1).values <= 0).sum())


# %% slideshow={"slide_type": "skip"}
if exercises.layers.check_count_dead_channels(count_dead_channels):
    print(f"{layer_names[last]}: {count_dead_channels(acts[layer_names[last]])} of"
          f" {channels[last]} channels are all zero after ReLU")

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
