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
# # 9.2.1 基于类别权重的类激活图（CAM）
#
# 教材第 9 章 9.2 节“CNN模型决策原因的可视化方法”的第 1 小节，例 9.2（教材的模型是 resnet18）。
#
# **学习目标**
#
# 1. 说清楚教材所说的**决策原因可视化**：模型把这张图判为某一类，输入图像中**哪些区域**对这个决策起关键作用；
# 2. 理解“CNN 部分 + 全局平均池化（Global Average Pooling, GAP）+ 一个全连接层”的结构，以及为什么全连接层参数矩阵 $W$ 的第 $y$ 行
#    `W[y, :]`（教材称为**类别权重**）可以给通道加权；分清教材的两个术语：**类激活图**（Class Activation Map）是得到的那张图，
#    **类激活映射**（Class Activation Mapping）是得到它的方法（Zhou 等，2016，*Learning Deep Features for Discriminative Localization*）；
# 3. 会用 `register_forward_hook` 注册前向钩子（forward hook）取中间层输出，并且一定把它移除；
# 4. 按例 9.2 的代码画出类激活图（图 9-7），并用数字看清这段代码的问题：没有 `model.eval()`、归一化遇到全 0 图得到 NaN、
#    调色板错位、钩子保存的张量被原地运算改写（教材的图因此“碰巧”是对的）、热力图与照片错位；
# 5. 为任意类别画类激活图：同一张照片上，“猫”的图和“杯子”的图落在不同的物体上。

# %% slideshow={"slide_type": "skip"}
import copy
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

import helpers  # before torchvision: helpers imports it without torch._dynamo (helpers/models/tv.py)
import torchvision
from PIL import Image
from torch import nn

from helpers import cam, exercises, hooks, images, load_image, load_model, widgets
from helpers.draw import explain, viz
from helpers.arrays import minmax
from helpers.exercises import concepts

helpers.setup()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 决策原因可视化与类激活图的思路
#
# 9.1 节把各层的输出画了出来，但那只回答了“某个卷积核提取到了什么”。教材 9.2 节要回答的是：**模型为什么做出这个决策？**
# 教材称之为**决策原因可视化**：把输入图像中对决策起关键作用的区域用不同的颜色标出来。
#
# 教材把网络分成两部分：**CNN 部分**（卷积神经网络，只提取特征，不含全连接层）和**全连接部分**（分类）。
# 设 CNN 部分输出 $n$ 个通道的特征图 $A^1, \dots, A^n$，每张 $h \times w$（resnet18 是 512 张 7×7）。按教材的记号：
# 类别个数为 $c$，全连接层的参数矩阵 $W$ 是 $c \times n$ 矩阵；类别的**索引**记作 $y$（$0 \le y < c$）。
#
# resnet18 的分类头先做**全局平均池化**，把每张特征图平均成一个数 $F_k = \frac{1}{hw}\sum_{i,j} A^k_{ij}$，
# 再接**一个**全连接层。第 $y$ 类的分数（softmax 之前的 logit）是
#
# $$s_y = \sum_{k=1}^{n} W_{y,k}\, F_k + b_y = \frac{1}{hw} \sum_{i,j} \underbrace{\sum_{k=1}^{n} W_{y,k}\, A^k_{ij}}_{M_y(i,j)} + b_y .$$
#
# 求和的次序可以交换，于是第 $y$ 类的分数就是一张 $h \times w$ 的图 $M_y$ 的平均值（再加偏置）：$M_y(i,j)$ 是位置 $(i,j)$ 对这个分数的贡献。
# `W[y, :]` 的 $n$ 个分量就是教材说的**类别权重**：通道 $k$ 连到类别 $y$ 的那条边的权重。
# 把 $M_y$ 经 ReLU、放大到输入图像的大小、叠加到图像上，就是**类激活图**；这套做法叫**类激活映射**。它不需要再训练任何东西，
# 只要 (1) CNN 部分的输出 $A$ 和 (2) 全连接层的参数 $W$。
#
# 注意尺度：7×7 图上相邻两格在输入图像上相距 32 像素，这是网络的**总步长**（stride），不是一个格子“看到”的范围。
# 一个格子的感受野（receptive field）比 32×32 大得多，覆盖了图像的很大一部分，所以 7×7 的图只能粗略地指出位置。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 1 步：加载模型
#
# 教材用 torchvision 在 ImageNet 上预训练的 resnet18。离线时 `load_model` 改用课程自带的 EfficientNet-Lite0，并打印出来。
# 它的分类头也是“全局平均池化 + 一个全连接层”：CNN 部分的最后一层是 `bn2`（批归一化 + ReLU6，1280 个 7×7 的通道）
# → 全局平均池化 → `classifier`（1280 → 1000），所以类激活映射同样适用。**下面的层名、形状和数字以打印出的模型为准。**

# %% slideshow={"slide_type": "-"}
bundle = load_model("resnet18")  # the book's model; offline: the bundled EfficientNet-Lite0
model = bundle.model
W = bundle.classifier_weight  # (classes, C): the fc weight after global average pooling
fc = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]  # the one linear layer
print("model in use:", bundle.name, "| source:", bundle.source)
print("layer that feeds the pooling:", bundle.cam_layer_name, "| fc weight W:", tuple(W.shape))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 2 步：前向钩子 `register_forward_hook`
#
# 要拿到 CNN 部分的输出 $A$，不必像例 9.1 那样把模型“拆除”再“组装”：教材介绍的办法是在那一层上注册一个前向钩子。
# 钩子是一个函数 `hook(module, input, output)`，模型每次前向经过这一层，PyTorch 都会调用它，`output` 就是这一层的输出。
# `register_forward_hook` 返回一个句柄（handle），用完调用 `handle.remove()` 把钩子摘掉（例 9.2 的代码里有这一句）。

# %% slideshow={"slide_type": "-"}
features = []  # the hook appends the layer's output here


def hook_feature(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
    features.append(output.detach().clone())  # clone: later in-place ops must not change it


image = load_image("cat")
x = bundle.to_input(image)  # (1, 3, 224, 224)
handle = bundle.cam_layer.register_forward_hook(hook_feature)
with torch.no_grad():
    logits = model(x)  # (1, 1000)
handle.remove()
print("captured:", len(features), "map(s) of shape", tuple(features[0].shape))
print("hooks left on the model after handle.remove():", hooks.count_hooks(model))

# %% [markdown] slideshow={"slide_type": "subslide"}
# 忘了 `remove()` 会怎样？钩子一直挂在模型上，之后的**每一次**前向都会再存一份特征图：列表越来越长，内存越占越多，
# 而且这时再注册一个钩子，两个钩子会同时起作用。

# %% slideshow={"slide_type": "-"}
features.clear()
handle = bundle.cam_layer.register_forward_hook(hook_feature)
for _ in range(3):
    with torch.no_grad():
        model(x)
print("hook never removed: after 3 forward passes the list holds", len(features), "maps")
handle.remove()

# %% [markdown] slideshow={"slide_type": "-"}
# 中途出错（例如输入形状不对）时，写在后面的 `handle.remove()` 根本执行不到。稳妥的写法是把移除放进 `finally`，
# 或者用上下文管理器：`helpers.hooks.Capture` 在 `with` 结束时（出错也一样）移除所有钩子，并把输出复制一份存到 `cap.acts`。

# %% slideshow={"slide_type": "-"}
with torch.no_grad(), hooks.Capture({bundle.cam_layer_name: bundle.cam_layer}) as cap:
    logits = model(x)  # (1, 1000)
feature = cap.acts[bundle.cam_layer_name]  # (1, C, h, w)
assert torch.equal(feature, features[0])
print("feature map:", tuple(feature.shape), "| hooks left:", hooks.count_hooks(model))

# %% [markdown] slideshow={"slide_type": "subslide"}
# 先用数字验证上面的公式：类别分数等于 $M_y$ 的平均值加偏置 $b_y$。

# %% slideshow={"slide_type": "-"}
idx = int(logits.argmax())
M = torch.einsum("k,khw->hw", W[idx], feature[0])  # (h, w): sum_k W[y, k] A^k
print(f"top-1 class: {bundle.categories[idx]}")
print(f"logit from the model: {float(logits[0, idx]):.3f} | mean of M_y + b_y: "
      f"{float(M.mean() + fc.bias[idx].detach()):.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 3 步：例 9.2 的代码，原样运行（图 9-7）
#
# 下面是例 9.2 第 (1)～(4) 步的代码，按教材的顺序抄在一起。为了能在今天的库上、用课程的模型运行，改动了几处，
# 每处都标了 `# CHANGED:` 并写明原文；其余各行与教材一字不差（包括教材的注释）。
#
# - 教材用 `models.resnet18(pretrained=True)` 和 Windows 路径 `path + '\\' + name` 读 `both.png`；这里用 `load_model` 给出的模型和课程的示例图片；
# - 教材的预处理 `Normalize([0.5, 0.5, 0.5], [0.2, 0.2, 0.2])` 不是模型训练时的归一化，这里用 `bundle.preprocess`；
# - `cm.get_cmap` 已从 Matplotlib 3.9 删除，这里用 `matplotlib.colormaps`；`[:, :, 1:]` **保留**，它能运行，只是颜色错位（见下文）；
# - 教材用 OpenCV 的 `cv2.addWeighted` 混合（照片 0.6、热力图 0.4），但本章列出的导入里没有 OpenCV（`import cv2`）；
#   这里用 NumPy 写出 `cv2.addWeighted` 算的同一个式子 `round(0.6·a + 0.4·b)`（装了 OpenCV 时下面会核对两者逐像素相同）。

# %% slideshow={"slide_type": "subslide"}
from matplotlib import colormaps  # CHANGED: the book uses `from matplotlib import cm` (cm.get_cmap)
from torchvision.transforms.functional import to_pil_image

warnings.filterwarnings("ignore", message="__array__ implementation")  # CHANGED (added): NumPy 2 warns on np.array(tensor)

model = bundle.model  # CHANGED: model = models.resnet18(pretrained=True) #加载模型
fc_layer = fc  # CHANGED: resnet18's model.fc; the bundled model calls it model.classifier


def hook_fun(model, input, output):  # 定义 hook
    global out_FM  # 定义全局变量，用于存放输出的特征图  # CHANGED: body indented (lost in the extracted text)
    out_FM = output


handle = bundle.cam_layer.register_forward_hook(hook_fun)  # CHANGED: model.layer4[1].bn2.register_forward_hook(hook_fun)

tfs = bundle.preprocess  # CHANGED: the book's Resize(256), CenterCrop(224), ToTensor(), Normalize([0.5]*3, [0.2]*3)
img_path = images.sample_path("cat")  # CHANGED: path + '\\' + name with name = 'both.png' (Windows only)
img = Image.open(img_path).convert('RGB')  # 打开图片并转换为 RGB 模型
origin_img = img  # 保存原图
img = tfs(img)  # 转化为张量
img = torch.unsqueeze(img, 0)  # 增加 batch 维度 torch.Size([1, 3, 224, 224])
out = model(img)
pre_y = torch.argmax(out).item()  # 获取预测类别的索引

weights = fc_layer.weight.data[pre_y, :]  # CHANGED: model.fc.weight.data[pre_y,:] #获取类别权重
weights = weights.reshape(*weights.shape, 1, 1)  # (512, 1, 1)
out_FM = out_FM.squeeze(0)  # (512, 7, 7)
weighted_FM = (weights * out_FM).sum(0)  # 加权求和, 结果形状为(7, 7)
handle.remove()

weighted_FM = torch.relu(weighted_FM)**2
weighted_FM = (weighted_FM-weighted_FM.min()) \
               /(weighted_FM.max()-weighted_FM.min())  # 归一化
weighted_FM = to_pil_image(np.array(weighted_FM.detach()), mode='F')
expanded_FM = weighted_FM.resize(origin_img.size, resample=Image.BICUBIC)
expanded_FM = 255 * colormaps['jet'](np.array(expanded_FM))[:, :, 1:]  # CHANGED: cm.get_cmap('jet')
expanded_FM = expanded_FM.astype(np.uint8)
CAM = np.clip(np.rint(0.6 * np.array(origin_img) + 0.4 * np.array(expanded_FM)), 0, 255).astype(np.uint8)  # CHANGED: cv2.addWeighted(np.array(origin_img), 0.6, np.array(expanded_FM), 0.4, 0)

try:  # the book's own call, where OpenCV happens to be installed
    import cv2
    assert np.array_equal(cv2.addWeighted(np.array(origin_img), 0.6, np.array(expanded_FM), 0.4, 0), CAM)
except ImportError:
    pass
print(f"pre_y = {pre_y} ({bundle.categories[pre_y]}) | weighted_FM {weighted_FM.size} -> "
      f"expanded_FM {expanded_FM.shape} | CAM {CAM.shape} {CAM.dtype}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 教材的代码能跑通。下面把教材的结果（左）和改正颜色后的结果（右）并排画出，并给每张热力图配上颜色条（colour bar）。
#
# **颜色为什么对不上？** 调色板 `cmap(v)` 返回 R、G、B、A 四个分量（A 是不透明度，`jet` 里恒为 1）。教材的 `[:, :, 1:]` 取到 G、B、A，
# 显示时被当成 R、G、B：原来的绿色显示成红色、蓝色显示成绿色，蓝色分量恒为 1。于是小的值是浅蓝色、中间是品红色、大的值是深蓝色，
# 教材那句“值大的像素显示为红色或深蓝色，值小的为浅蓝色”描述的正是这个错位的调色板（9.1 节的笔记本把两条调色板并排画了出来）。
# 改正：`cmap(v)[..., :3]`，小的值是深蓝、大的值是深红。
#
# `jet` 本身也会误导：它的亮度不随数值单调变化（黄色、青色最亮，两端的深蓝和深红都暗），眼睛会在亮度跳变处看到并不存在的“边界”。
# 感知均匀（perceptually uniform）的色图如 `viridis` 亮度随数值单调增加，读数更可靠；右下角用它画同一张 7×7 的图。

# %% slideshow={"slide_type": "subslide"}
cam_book = np.array(weighted_FM)  # (7, 7): the book's map after ReLU, square and min-max
heat = np.clip(np.array(weighted_FM.resize(origin_img.size, resample=Image.BICUBIC)), 0, 1)  # (H, W)
heat_rgb = colormaps["jet"](heat)[..., :3]  # (H, W, 3): R, G, B
photo = np.asarray(origin_img, dtype=np.float32) / 255  # (H, W, 3)
fixed = Image.fromarray(np.clip(255 * (0.6 * photo + 0.4 * heat_rgb) + 0.5, 0, 255).astype(np.uint8))

fig, axes = plt.subplots(2, 2, figsize=(9, 7), dpi=60)
shifted = matplotlib.colors.ListedColormap(colormaps["jet"](np.linspace(0, 1, 256))[:, 1:])  # G, B, A as RGB
panels = ((axes[0, 0], CAM, shifted, "图 9-7（教材代码）：[:, :, 1:]，0.6 照片 + 0.4 热力图"),
          (axes[0, 1], fixed, "jet", "改正颜色：[..., :3]，混合权重不变"),
          (axes[1, 0], cam_book, shifted, "教材的 7×7 图，错位的调色板"),
          (axes[1, 1], cam_book, "viridis", "同一张 7×7 图，viridis（感知均匀）"))
for ax, picture, cmap_, title in panels:
    shown = ax.imshow(picture, cmap=cmap_, vmin=0, vmax=1)
    if np.ndim(picture) == 3:  # a blended photo: the bar shows the colours of the heat map
        shown = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), cmap_)
    fig.colorbar(shown, ax=ax, fraction=0.046, label="归一化的类激活值")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
fig.suptitle(f"{bundle.name}（课程自带模型）· 类别 {bundle.categories[pre_y]}")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# `cam.class_weight_cam` 把“钩子 + 前向 + 加权求和”包在一个函数里（钩子用完即移除）；`viz.overlay` 负责放大、上色和混合
# （`alpha` 是照片的权重；例 9.2 是 0.6，例 9.1 的图 9-6 是 0.7）。两者与上面教材代码的结果一致：

# %% slideshow={"slide_type": "-"}
idx = pre_y
raw_book = (weights * out_FM).sum(0).detach()  # (h, w): the book's weighted_FM before ReLU
res = cam.class_weight_cam(model, bundle.cam_layer, W, x)  # class_idx=None: the top-1 class
assert res.class_idx == idx and torch.allclose(res.raw, raw_book, atol=1e-5)
assert np.allclose(minmax(res.raw.clamp(min=0) ** 2).numpy(), cam_book, atol=1e-5)
picture = viz.overlay(image, cam_book, alpha=0.6)  # alpha: the photo's weight
assert np.abs(np.asarray(picture, dtype=int) - np.asarray(fixed, dtype=int)).max() <= 1
print("raw map:", tuple(res.raw.shape), "| cam:", res.cam.shape, res.cam.dtype,
      f"in [{res.cam.min():.3f}, {res.cam.max():.3f}]")
print("the book's code == cam.class_weight_cam + viz.overlay; hooks left:", hooks.count_hooks(model))

# %% [markdown] slideshow={"slide_type": "-"}
# `res.cam` 是放大到输入大小（224×224，双线性插值）并归一化的图，**没有平方**；教材的平方（“以降低小特征值对显示结果的干扰”）
# 只是让强响应更突出，画图时可以自己加上（`res.cam ** 2`）。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误 1：例 9.2 没有调用 `model.eval()`
#
# > **勘误**：例 9.1 和例 9.3 加载模型后都写了 `model.eval()`，例 9.2 的 `model = models.resnet18(pretrained=True)` 后面没有。
# > torchvision 新建的模型处于**训练模式**，于是批归一化（BatchNorm）层用**这一张图**自己的均值和方差归一化，而不是训练集上的统计量，
# > 并且每次前向都会更新层里的 `running_mean` 和 `running_var`：模型被悄悄改掉了。
#
# 课程的 `load_model` 返回的模型已经是评估模式。下面复制一份模型、切换到训练模式，对同一张猫的照片前向一次，比较三样东西：
# 类别概率、类激活图、第一个批归一化层的 `running_mean`。

# %% slideshow={"slide_type": "subslide"}
train_model = copy.deepcopy(model).train()  # what the book's code runs: a model in training mode
first_bn_name, first_bn = next((n, m) for n, m in train_model.named_modules()
                               if isinstance(m, nn.BatchNorm2d))
mean_before = first_bn.running_mean.clone()  # (channels,)
with torch.no_grad(), hooks.Capture({"A": train_model.get_submodule(bundle.cam_layer_name)}) as cap:
    p_train = train_model(x).softmax(dim=1)[0]  # (1000,), one call in training mode
p_eval = res.probs  # (1000,), the same photo in eval mode
k_train = int(p_train.argmax())
print(f"eval mode : top-1 {bundle.categories[idx]} ({float(p_eval[idx]):.3f})")
print(f"train mode: top-1 {bundle.categories[k_train]} ({float(p_train[k_train]):.3f}),"
      f" p({bundle.categories[idx]}) = {float(p_train[idx]):.3f}")
map_train = torch.relu(torch.einsum("k,khw->hw", W[idx], cap.acts["A"][0])) ** 2  # (h, w)
corr_train = np.corrcoef(minmax(map_train).ravel(), cam_book.ravel())[0, 1]
print(f"7x7 map of {bundle.categories[idx]}: correlation eval vs train = {corr_train:.3f}")
change = (first_bn.running_mean - mean_before).abs()  # (channels,)
print(f"{first_bn_name}.running_mean after one call in training mode: "
      f"largest change {float(change.max()):.3f}, mean change {float(change.mean()):.3f}")
print("the model given by load_model is untouched:", not model.training)

# %% [markdown] slideshow={"slide_type": "subslide"}
# 一行 `model.eval()` 之差：在训练模式下模型不再认为这是猫（最可能的类别和概率都变了），同一类别的类激活图几乎毫不相关，
# 而且每调用一次，批归一化层的统计量就被这张图拉偏一次。**改正**：加载后立刻 `model.eval()`；只做推理时再加上 `torch.no_grad()`。
# （教材的 resnet18 在训练模式下会得到什么图，离线无法重现；上面的数字来自课程自带的模型，结论相同。）

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误 2：全 0 的图归一化得到 NaN
#
# > **勘误**：例 9.2（以及例 9.3、图 9-5 的代码）的归一化写成 `(weighted_FM-weighted_FM.min())/(weighted_FM.max()-weighted_FM.min())`，
# > 没有判断分母是否为 0。例 9.1 的 `showImg` 倒是有保护（`if max_min == 0: max_min = 1e-6`），这里却没有。
#
# 什么时候分母为 0？ReLU 之后整张图都是 0，也就是图上**没有一个位置**为这个类别提供正的证据。解释概率最大的类别时很少发生，
# 但类激活映射可以解释任何类别（第 4 步），这时就会遇到：

# %% slideshow={"slide_type": "subslide"}
all_maps = torch.einsum("yk,khw->yhw", W, feature[0])  # (1000, h, w): M_y for every class
no_evidence = (all_maps.amax(dim=(1, 2)) <= 0).nonzero().flatten().tolist()
print(f"classes whose map is <= 0 everywhere on the cat photo: {len(no_evidence)} of {W.shape[0]}")
y0 = no_evidence[0]
m0 = torch.relu(all_maps[y0]) ** 2  # the book's line: all zeros
with np.errstate(invalid="ignore"):
    book_norm = (m0 - m0.min()) / (m0.max() - m0.min())  # the book's min-max: 0 / 0
print(f"class {bundle.categories[y0]}: the book's min-max gives {int(book_norm.isnan().sum())} NaN of {m0.numel()}")
print(f"guarded min-max (helpers.arrays.minmax): {int(minmax(m0).isnan().sum())} NaN, max {float(minmax(m0).max()):.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# NaN 经过调色板变成调色板的“无效值”颜色，转成 `uint8` 时更是未定义的值，画出来的图没有意义，而且不会报错。
# **改正**：像 `showImg` 那样先判断分母；课程里所有归一化都用同一个有保护的函数 `helpers.arrays.minmax`（全平的图返回全 0）。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误 3：钩子保存的张量被原地运算改写——图 9-7 碰巧是对的
#
# 教材说 resnet18 的 CNN 部分的最后一个网络层是 `model.layer4[1].bn2`，把钩子挂在这里，钩子里写 `out_FM = output`（不复制）。
# 但 `bn2` 并不是全局平均池化读到的那一层。resnet18 最后一个残差块 `layer4[1]`（一个 `BasicBlock`）的前向是
#
# ```python
# out = self.bn2(self.conv2(out))   # 钩子在这里拿到 output
# out += identity                   # 残差相加：原地（in-place）改写同一个张量
# out = self.relu(out)              # ReLU(inplace=True)：再原地改写一次
# return out                        # 全局平均池化读的是这里：layer4 的输出
# ```
#
# `+=` 和 `ReLU(inplace=True)` 都直接改写 `bn2` 输出的那块内存，而 `out_FM` 指向的正是这块内存。所以等到前向结束、
# 教材的代码去读 `out_FM` 时，它已经**等于 `layer4` 的输出**：恰好是类激活映射需要的那张图。图 9-7 是对的，但靠的是内存共用（aliasing）的巧合。
# 一个养成了好习惯、在钩子里复制一份（`output.detach().clone()`）的学生，拿到的反而是残差相加、ReLU 之前的图，带有负值，类激活图也不同。
#
# 下面在 torchvision 的 resnet18 结构上用数字演示。权重是**随机的**（`weights=None`，固定随机种子，不需要下载），
# 所以图本身没有意义；但内存共用与权重无关，结论和预训练模型完全一样。

# %% slideshow={"slide_type": "subslide"}
torch.manual_seed(0)
demo = torchvision.models.resnet18(weights=None).eval()  # random weights: the architecture is what matters
kept = {}


def book_hook(module: nn.Module, input: tuple, output: torch.Tensor) -> None:
    kept["alias"] = output  # the book: out_FM = output, no copy
    kept["copy"] = output.detach().clone()  # good practice: a copy taken at this moment


handle = demo.layer4[1].bn2.register_forward_hook(book_hook)
try:
    with torch.no_grad(), hooks.Capture({"layer4": demo.layer4}) as cap:
        demo_logits = demo(torch.randn(1, 3, 224, 224))  # (1, 1000)
finally:
    handle.remove()
layer4_out = cap.acts["layer4"]  # (1, 512, 7, 7): what global average pooling reads
for label, t in (("book, no copy", kept["alias"]), ("copy in the hook", kept["copy"])):
    gap_ok = torch.allclose(demo.fc(t.mean(dim=(2, 3))), demo_logits, atol=1e-5)
    print(f"{label:<17s} == layer4 output: {torch.equal(t, layer4_out)!s:<5s} | "
          f"min {float(t.min()):.3f} | negative share {float((t < 0).float().mean()):.3f} | "
          f"fc(GAP(.)) == logits: {gap_ok}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 不复制时，“`bn2` 的输出”与 `layer4` 的输出逐元素相等、没有负值，用它做全局平均池化再送进 `fc` 正好算回 logits；
# 复制一份得到的是相加之前的图，近一半是负值，算不回 logits。教训有两条：
#
# 1. 钩子挂在**输出直接送进全局平均池化的那一层**（resnet18 是 `model.layer4`，课程模型是 `bn2`，即 `bundle.cam_layer`），
#    可以用“全局平均池化后送进全连接层能否算回 logits”来判断（练习 3）；
# 2. 钩子里**复制**输出。两条都做到，结果就不再依赖巧合。
#
# 课程模型的 `bn2` 里已经包含了激活函数 ReLU6，后面没有原地运算，所以不复制也不会出错；但换一个模型就不一定了。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误 4：热力图与照片错位
#
# > **勘误**：模型看到的是预处理后的图：短边缩放到 256、再**中心裁剪** 224×224（`Resize(256)` + `CenterCrop(224)`）。
# > 类激活图是在这块 224×224 上算出来的，教材却用 `weighted_FM.resize(origin_img.size, ...)` 把它拉伸到**整张**照片上。
# > 照片不是正方形时，裁掉的两边也被铺上了热力图，热区被横向（或纵向）拉宽、挪位。
#
# 用一张宽照片（火箭，640×427）看得最清楚。`bundle.crop_box` 给出中心裁剪在原图上的位置，
# `viz.overlay_box` 只在这块区域上叠加热力图（白框），这才是模型实际看的地方。

# %% slideshow={"slide_type": "subslide"}
wide = load_image("rocket")
res_wide = cam.class_weight_cam(model, bundle.cam_layer, W, bundle.to_input(wide))
box = bundle.crop_box(wide.size)  # (left, top, right, bottom) in the photo's pixels
print(f"photo {wide.size}, class {bundle.categories[res_wide.class_idx]}, centre crop {box}")

i, j = np.unravel_index(res_wide.cam.argmax(), res_wide.cam.shape)  # the peak in the 224x224 map
book_xy = (j / 224 * wide.width, i / 224 * wide.height)  # stretched over the whole photo
true_xy = (box[0] + j / 224 * (box[2] - box[0]), box[1] + i / 224 * (box[3] - box[1]))
print(f"peak of the map in the photo: book ({book_xy[0]:.0f}, {book_xy[1]:.0f}), "
      f"correct ({true_xy[0]:.0f}, {true_xy[1]:.0f}), "
      f"{abs(book_xy[0] - true_xy[0]):.0f} pixels apart horizontally")

# Where is the rocket? Criterion: the columns whose mean grey value over rows 150-330 (the body,
# read off the photo) exceeds 100; the night sky around it is about 75.
grey = np.asarray(wide.convert("L"), dtype=np.float32)  # (H, W)
body = np.flatnonzero(grey[150:330].mean(axis=0) > 100)
body = body[(body > box[0]) & (body < box[2])]  # inside the crop (the gantry lights are outside)
body_l, body_r = int(body.min()), int(body.max())
to_map = lambda px: int((px - box[0]) / (box[2] - box[0]) * 224)  # photo column -> map column
on_body = res_wide.cam[:, to_map(body_l):to_map(body_r) + 1]  # (224, width of the body)
print(f"rocket body: photo columns {body_l}-{body_r}; peak at column {true_xy[0]:.0f}, "
      f"{min(abs(true_xy[0] - body_l), abs(true_xy[0] - body_r)):.0f} pixels beside the body")
print(f"map on the body: max {float(on_body.max()):.3f} (the peak is 1.000), "
      f"share of the map's mass on the body columns {float(on_body.sum() / res_wide.cam.sum()):.3f}"
      f" (their share of the width: {on_body.shape[1] / 224:.3f})")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=60, layout="constrained")
axes[0].imshow(explain.overlay_explanation(wide, res_wide, alpha=0.6))  # box=None: whole photo
axes[0].set_title("教材：拉伸到整张照片（错位）")
axes[1].imshow(explain.overlay_explanation(wide, res_wide, box=box, alpha=0.6))
axes[1].set_title("修正：只叠在模型看到的中心区域")
axes[1].add_patch(plt.Rectangle((body_l, 120), body_r - body_l, 240, fill=False,
                                edgecolor="white", linestyle="--", linewidth=1.5))
for ax, (px, py) in zip(axes, (book_xy, true_xy)):
    ax.plot(px, py, "w+", markersize=14, mew=2)
    ax.axis("off")
fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet"), ax=axes,
             fraction=0.025, label="归一化的类激活值")
fig.suptitle(f"{bundle.name}（课程自带模型）· 类别 {bundle.categories[res_wide.class_idx]} · +：图的最大值 · 虚线：箭体")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 左图的热区被横向拉宽，伸到了两侧的发射塔上。右图对齐了，但要**如实读图**：热区的最大值并不在火箭上，而在箭体**旁边**
# （上面打印的距离），箭体所在的几列上的值明显低于最大值。这张图说的是“模型判为 missile 的证据来自火箭及其两侧这一片区域
# （包括发射塔）”，而不是“紧贴火箭”。7×7 的图每格相距 32 像素、每格的感受野更大，本来就分辨不出这么窄的箭体。
# 方形照片（如后面的 `cat_and_cup`）两种叠加方法一样，所以错位在方形示例图上看不出来。

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 格子真正看哪里：有效感受野
#
# 教材说，对加权后的单通道特征图“进行插值扩充，还原为跟输入图像一样大小，则非负值所在的区域即为输入图像中物体所在区域”（第 304 行），
# 代码是 `expanded_FM = weighted_FM.resize(origin_img.size, resample=Image.BICUBIC)`（第 455 行）。插值把第 $(i, j)$ 格的值
# 画在它那块 32×32 区域的中心。这一格的值到底由哪些像素决定？量一量：**有效感受野**（effective receptive field, ERF；
# Luo 等 2016）是这一格对输入的梯度的绝对值 $|\partial A_{ij} / \partial x|$，它的重心就是这一格“真正看”的地方。
# `erf.erf_offset` 给出所有格子的平均偏移（向下、向右为正）。
#
# 为什么会偏：步长为 2、卷积核为奇数的卷积对不准它的 2×2 小块，每一层都把感受野挪半个（该层的）像素：
# PyTorch 的对称填充（torchvision 的 resnet18）往左上挪，TensorFlow 的 `"SAME"` 填充（课程模型的权重在 TensorFlow 里训练，
# 多出的一个填充像素放在下、右）往右下挪（下表 “symmetric padding” 一行：同一组随机权重，只把填充换成对称的）。五个这样的层加起来是 $0.5 \times (1 + 2 + 4 + 8 + 16) = 15.5$ 像素
# （`tests/test_erf.py` 在手搭的网络上验证了这个数）。实测比这小：感受野很大，被图像边缘切掉的部分让重心往图内移，
# 靠边的格子移得最多（下表最后一列是中间那一格的偏移）。随机权重下偏移只由结构决定；训练过的权重不再对称，
# 偏移也跟着变（下表课程模型“bundled weights”一行），所以画图用的是训练过的那一行。训练过的网络对不同的随机输入
# “看”的地方差别很大（下面打印了单个输入的结果有多分散），所以它的数字是 16 个随机输入的平均，并给出标准误差。
#
# 每个模型要 49 次反向传播，CPU 上要几十秒，所以数字由 `scripts/erf_offset.py` 事先算好（`data/erf/offsets.json`），这里现场重算一格核对。
# 偏移达到**四分之一格**（32 / 4 = 8 像素）才算要紧：这时本节后面的热力图画在测得的位置上（`shift`）；否则照插值的位置画。
# 缓存里只有课程模型自带权重的测量（其余是随机权重）；联网用 torchvision 训练好的权重时没有测量，也照插值的位置画。

# %% slideshow={"slide_type": "subslide"}
import json

from helpers.cam import erf

ERF = json.loads((images.DATA_DIR / "erf" / "offsets.json").read_text(encoding="utf-8"))
S = ERF["settings"]
print(f"ERF centre minus where bilinear upsampling draws the cell, in pixels of the "
      f"{S['size']}x{S['size']} input (+ = down / right); probes: seeded Gaussian images")
print(f"{'model':<46s}{'layer':>7s}{'probes':>7s}{'mean dy':>9s}{'mean dx':>9s}{'/cell':>7s}"
      f"{'centre cell dy, dx':>21s}")
for key in ("resnet18_random", "efficientnet_lite0_random", "efficientnet_lite0_random_symmetric",
            "efficientnet_lite0"):
    r = ERF["models"][key]
    mid = r["per_cell"][r["grid"][0] // 2][r["grid"][1] // 2]  # the centre cell
    print(f"{r['label']:<46s}{r['layer']:>7s}{r['samples']:>7d}{r['mean'][0]:+9.1f}{r['mean'][1]:+9.1f}"
          f"{max(map(abs, r['mean'])) / r['cell']:7.2f}{mid[0]:+12.1f}, {mid[1]:+5.1f}")

tf_same, sym = (ERF["models"][k]["mean"] for k in ("efficientnet_lite0_random",
                                                  "efficientnet_lite0_random_symmetric"))
print(f"same random Lite0, TF 'SAME' -> symmetric padding: ({tf_same[0]:+.1f}, {tf_same[1]:+.1f}) -> "
      f"({sym[0]:+.1f}, {sym[1]:+.1f}) px: the padding "
      + ("flips the offset" if tf_same[0] * sym[0] < 0 and tf_same[1] * sym[1] < 0 else "does not flip it"))

probe = erf.probe_inputs(S["size"], S["samples"], S["seed"])  # the cache's probes
torch.manual_seed(S["weights_seed"])
live = {"resnet18_random": (torchvision.models.resnet18(weights=None).eval(), "layer4")}
if bundle.source == "bundled":
    live["efficientnet_lite0"] = (model, bundle.cam_layer_name)
for key, (net, layer_name) in live.items():  # one cell of each, live
    i, j = (n // 2 for n in ERF["models"][key]["grid"])
    x_probe = probe[:ERF["models"][key]["samples"]]  # the random networks: the first probe only
    got = erf.erf_centres(net, layer_name, x_probe, cells=[(i, j)])[:, i, j].mean(dim=0).tolist()
    want = ERF["models"][key]["per_cell"][i][j]
    assert np.allclose(got, want, atol=1e-2), (key, got, want)
    print(f"live check {key}, cell ({i}, {j}): ({got[0]:+.2f}, {got[1]:+.2f}) px = cache")

erf_key = "efficientnet_lite0" if bundle.source == "bundled" else f"{bundle.name}_random"
erf_row = ERF["models"][erf_key]
if erf_row["samples"] > 1:  # trained weights: how much one probe's answer varies
    spread = np.array(erf_row["probe_means"])  # (probes, 2)
    se = erf_row["standard_error"]
    print(f"{erf_row['label']}: single probes give dy {spread[:, 0].min():+.1f} .. {spread[:, 0].max():+.1f},"
          f" dx {spread[:, 1].min():+.1f} .. {spread[:, 1].max():+.1f} px; the mean of "
          f"{erf_row['samples']} has a standard error of ({se[0]:.1f}, {se[1]:.1f}) px")
SHIFT = erf.drawing_shift(erf_row["mean"], erf_row["cell"])  # (0, 0) under a quarter cell
if bundle.source != "bundled":  # trained torchvision weights: not measured, and training moves the ERF
    SHIFT = (0.0, 0.0)
    print(f"{bundle.name} with its trained weights is not in the cache: drawn unshifted")
print(f"model in use: {erf_row['label']}: offset ({erf_row['mean'][0]:+.1f}, {erf_row['mean'][1]:+.1f}) px,"
      f" a quarter cell = {erf_row['cell'] / 4:.0f} px -> "
      + (f"material: the overlays below are drawn shifted by ({SHIFT[0]:+.1f}, {SHIFT[1]:+.1f}) px"
         if SHIFT != (0.0, 0.0) else "not material: the overlays stay where upsampling draws them"))

# %% [markdown] slideshow={"slide_type": "subslide"}
# 同一张火箭的类激活图画两遍：左边照插值的位置画，右边把每一格挪到它的有效感受野的重心（上面打印的平均偏移）。
# +：最大的那一格被画在哪里。偏移不到四分之一格时两张图几乎一样，这正是“不要紧”的意思。

# %% slideshow={"slide_type": "subslide"}
offset = (erf_row["mean"][0], erf_row["mean"][1])  # (dy, dx) in input pixels
ci, cj = np.unravel_index(int(res_wide.raw.argmax()), tuple(res_wide.raw.shape))  # the strongest cell
cell = erf_row["cell"]  # input pixels per cell
scale = ((box[3] - box[1]) / 224, (box[2] - box[0]) / 224)  # photo pixels per input pixel
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=60, layout="constrained")
for ax, s, title in ((axes[0], (0.0, 0.0), "插值画在格子中心"),
                     (axes[1], offset, f"挪到有效感受野的重心（{offset[0]:+.1f}, {offset[1]:+.1f} 像素）")):
    ax.imshow(explain.overlay_explanation(wide, res_wide, box=box, alpha=0.6, shift=s))
    ax.plot(box[0] + ((cj + 0.5) * cell + s[1]) * scale[1], box[1] + ((ci + 0.5) * cell + s[0]) * scale[0],
            "w+", markersize=14, mew=2)
    ax.set_title(title)
    ax.axis("off")
fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet"), ax=axes,
             fraction=0.025, label="归一化的类激活值")
fig.suptitle(f"{erf_row['label']} · 四分之一格 = {cell / 4:.0f} 像素 · "
             + ("偏移要紧：后面的图画在右边的位置" if SHIFT != (0.0, 0.0) else "偏移不要紧：后面的图照插值的位置画"))
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误 5：“非负值所在的区域”
#
# 教材在 9.2.1 节开头这样描述类激活图：对 CNN 输出的通道图像“进行加权叠加并进行 ReLU 激活后，对得到的单通道特征图进行插值扩充，
# 还原为跟输入图像一样大小，则非负值所在的区域即为输入图像中物体所在区域，这个区域就是模型决策的主要依据”。
#
# 按字面读，这句话什么也没说：ReLU 之后**每个**值都是非负的，“非负值所在的区域”就是整张图。教材想说的应当是“**值大的**区域”；
# 而即使这样说，“值大的区域就是物体所在区域”也是一个需要测量的说法。用上面的火箭照片和箭体所在的列来量：

# %% slideshow={"slide_type": "subslide"}
nonneg = float((res_wide.cam >= 0).mean())  # (224, 224) after ReLU and min-max
positive = float((res_wide.raw > 0).float().mean())  # (7, 7) before ReLU
hot = res_wide.cam >= 0.5  # (224, 224): at least half of the peak
hot_on_body = float(hot[:, to_map(body_l):to_map(body_r) + 1].sum() / hot.sum())
print(f"after ReLU and upsampling, non-negative pixels: {nonneg:.3f} of the map (the whole image)")
print(f"before ReLU, positive cells: {positive:.3f} of the {res_wide.raw.numel()} cells")
print(f"pixels at >= 0.5 of the peak: {float(hot.mean()):.3f} of the map; of them {hot_on_body:.3f} lie on the "
      f"rocket body columns, which are {on_body.shape[1] / 224:.3f} of the width")

# %% [markdown] slideshow={"slide_type": "-"}
# > **勘误**（教材没有列出）：“则非负值所在的区域即为输入图像中物体所在区域，这个区域就是模型决策的主要依据”。ReLU 之后处处非负
# > （上面第一行打印），所以这句话按字面标出的是整张图；按 ReLU 之前的正值来读也一样可能是整张图（第二行打印）。**改正**：说“值大的区域是对这个类别的分数贡献大的区域”；它是否就是物体所在的区域，
# > 要量：火箭照片上，值不低于最大值一半的像素只有一部分落在箭体上（上面最后一行），其余在箭体两侧和发射塔上。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 4 步：为任意类别画 CAM
#
# 类激活映射可以解释**任何**一个类别，不只是概率最大的那个：把 `W[pre_y]` 换成别的类别的那一行即可（教材只解释了预测的类别）。
# 下面这张图左边是猫、右边是一杯咖啡。先看概率最大的 5 个类别（top-5）：

# %% slideshow={"slide_type": "-"}
both = load_image("cat_and_cup")
x_both = bundle.to_input(both)  # (1, 3, 224, 224)
first = cam.class_weight_cam(model, bundle.cam_layer, W, x_both)
top = first.probs.topk(5)
for rank, (p, k) in enumerate(zip(top.values.tolist(), top.indices.tolist()), 1):
    print(f"{rank}. {bundle.categories[k]:<16s} {p:.3f}")

# %% [markdown] slideshow={"slide_type": "-"}
# 在 ImageNet 的 1000 类里，猫有好几种（tabby、tiger cat、Egyptian cat……），杯子也有几种（cup、espresso、coffee mug）。
# 各取概率最大的一种，分别画 CAM，并检查两张图的最高点是否落在不同的半边：

# %% slideshow={"slide_type": "subslide"}
CAT_CLASSES = ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
CUP_CLASSES = ("cup", "espresso", "coffee mug")


def most_likely(names: tuple[str, ...]) -> int:
    """Index of the most probable class among ``names``."""
    return max((bundle.categories.index(n) for n in names), key=lambda k: float(first.probs[k]))


crop = both.crop(bundle.crop_box(both.size)).resize((224, 224), Image.Resampling.BICUBIC)
maps = {}
for label, names in (("猫", CAT_CLASSES), ("杯子", CUP_CLASSES)):
    k = most_likely(names)
    maps[label] = cam.class_weight_cam(model, bundle.cam_layer, W, x_both, class_idx=k)
    row, col = np.unravel_index(maps[label].cam.argmax(), (224, 224))
    side = "left" if col < 112 else "right"
    print(f"{bundle.categories[k]:<12s} p = {float(first.probs[k]):.3f}, "
          f"peak at column {col} ({side} half)")
cat_col = np.unravel_index(maps["猫"].cam.argmax(), (224, 224))[1]
cup_col = np.unravel_index(maps["杯子"].cam.argmax(), (224, 224))[1]
bundle.expect(cat_col < 112 <= cup_col, "猫的热力图峰值在左半边，杯子的在右半边")

fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.4), dpi=70, layout="constrained")
axes[0].imshow(crop)
axes[0].set_title("模型看到的 224×224")
for ax, label in zip(axes[1:], maps):
    r = maps[label]
    ax.imshow(explain.overlay_explanation(crop, r, alpha=0.5, shift=SHIFT))  # the explorer's own drawing
    ax.set_title(f"{label}：{bundle.categories[r.class_idx]}")
for ax in axes:
    ax.axis("off")
fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet"), ax=axes[1:],
             fraction=0.03, label="归一化的类激活值")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 同一张图、同一次前向得到的特征图 $A$，只因为换了一行权重 `W[y, :]`，热区就从猫移到了杯子上：
# 类激活图是**针对类别**的解释（class-discriminative）。这也说明模型的特征图里保留了猫和杯子各自的位置，尽管它只学过给整张图分类。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 动手试一试
#
# 下面的浏览器里可以选择类别（top-5，或在“其他类别”里输入任意类别的英文名再回车）、调节照片权重 α、换颜色表，
# 也可以换示例图片或上传自己的照片。“方法”选 CAM 就是本节的方法；Grad-CAM 是下一节的内容。
# 每张图只算一次，之后拖动 α 只是重画。

# %% slideshow={"slide_type": "-"}
explorer = widgets.cam_explorer(bundle, "cat_and_cup", method="cam", shift=SHIFT)  # SHIFT: measured above
explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 练习
#
# ### 练习 1（概念题）：先预测，再运行——两个相近类别的类激活图
#
# 课程模型把猫的照片判为 tiger cat，第二名是另一种猫。**不要运行代码**，先回答：
#
# 1. `predict_similar_maps()`：这两个类别的类激活图（ReLU、归一化之后，224×224）的相关系数会超过 0.9 吗？返回 `True` 或 `False`；
# 2. `explain_similar_maps()`：测量之后，用两三句话说明：这样的两张图能不能回答“模型为什么判 tiger cat 而不是第二名”？
#    如果不能，哪一张图能（提示：$s_y = \mathrm{mean}(M_y) + b_y$）？引用打印出的数。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_similar_maps() -> bool:
    """Do the CAMs of the top two classes on the cat photo correlate above 0.9?"""
    # Model answer: True. Both classes read the same cat features in the same places; their
    # class weights differ little, so the maps nearly coincide.
    return True


def explain_similar_maps() -> str:
    """Two or three sentences on what the two maps can and cannot show, citing the numbers.

    The numbers are the notebook's own, read when the check below calls this function.
    """
    first, second = (bundle.categories[k] for k in top2)
    gap = float(cat_logits[0, top2[0]] - cat_logits[0, top2[1]])
    return (f"两张图的相关系数是 {corr:.3f}，热区几乎重合：它们都在说“猫的证据在哪里”，回答不了为什么是 {first} 而不是 {second}。"
            "因为 s_y = mean(M_y) + b_y，两类分数之差就是差图 M_1 - M_2 的平均值加上偏置之差；要解释这两类之间的选择，应该看差图，"
            f"它的平均值只有 {float(diff.mean()):.3f}，加上偏置之差后两类 logit 只差 {gap:.3f}，"
            f"和两类概率 {float(probs[top2[0]]):.3f} 与 {float(probs[top2[1]]):.3f} 接近一致。")


# %% slideshow={"slide_type": "skip"}
with torch.no_grad():
    cat_logits = model(x)  # (1, 1000): the cat photo
top2 = cat_logits[0].topk(2).indices.tolist()
pair = [cam.class_weight_cam(model, bundle.cam_layer, W, x, k) for k in top2]
corr = float(np.corrcoef(pair[0].cam.flatten(), pair[1].cam.flatten())[0, 1])
if concepts.check_prediction("两个相近类别的 CAM 相关系数超过 0.9 吗", predict_similar_maps, corr > 0.9,
                             hint="两个类别读的是同一张特征图 A，只是类别权重不同：两类猫的类别权重会差很多吗？"):
    diff = pair[0].raw - pair[1].raw  # (h, w): M_1 - M_2
    probs = cat_logits[0].softmax(dim=0)  # (1000,)
    bias = (fc.bias[top2[0]] - fc.bias[top2[1]]).detach() if fc.bias is not None else torch.tensor(0.0)
    print(f"{bundle.categories[top2[0]]} ({float(probs[top2[0]]):.3f}) vs {bundle.categories[top2[1]]} "
          f"({float(probs[top2[1]]):.3f}): correlation of the two maps {corr:.3f}")
    print(f"difference map M_1 - M_2: mean {float(diff.mean()):.3f} + bias difference {float(bias):.3f} = "
          f"logit difference {float(cat_logits[0, top2[0]] - cat_logits[0, top2[1]]):.3f}; "
          f"its values range over [{float(diff.min()):.3f}, {float(diff.max()):.3f}]")
    concepts.check_explanation("这两张图能说明什么", explain_similar_maps)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：遮住一块区域，分数降多少
#
# CAM 声称告诉我们“每个位置对类别分数贡献了多少”。把这句话变成一个可以检验的数字：写出
# `region_drop(acts, fc_weight, mask, class_idx)`——在全局平均池化**之前**把特征图 `acts`（形状 `(1, C, h, w)`）上
# `mask`（形状 `(h, w)`，布尔）为 True 的位置全部清零，类别 `class_idx` 的分数（logit）会下降多少？返回一个 `float`
# （可以是负数）。想清楚：分数和 CAM 的关系是什么？下降的量除以的是哪个格子数？
# 检查函数在随机的特征图、权重和掩码上测试（评分时换新的）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def region_drop(acts: torch.Tensor, fc_weight: torch.Tensor, mask: torch.Tensor,
                class_idx: int) -> float:
    """Logit drop of class_idx when acts under mask are zeroed before the GAP.

    s_c = mean over all h*w cells of M_c + b_c, so the drop is M_c summed over the mask, over h*w.
    Shapes: acts (1, C, h, w), fc_weight (classes, C), mask (h, w) bool -> float.
    """
    removed = (acts[0] * mask).sum(dim=(1, 2)) / mask.numel()  # (C,): what the GAP loses per channel
    return float(fc_weight[class_idx] @ removed)


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_region_drop(region_drop):
    with torch.no_grad(), hooks.Capture({"A": bundle.cam_layer}) as cap:
        logits = model(x)  # (1, 1000), the cat photo
    k = int(logits.argmax())
    m_k = cam.class_weight_cam(model, bundle.cam_layer, W, x, k).raw  # (h, w): CAM before ReLU
    hot = m_k >= m_k.flatten().topk(5).values[-1]  # (h, w): the 5 hottest cells
    predicted = region_drop(cap.acts["A"], W, hot, k)
    with torch.no_grad():
        kept = fc((cap.acts["A"] * ~hot).mean(dim=(2, 3)))[0, k]  # the head run on the masked map
    measured = float(logits[0, k] - kept)
    assert abs(predicted - measured) < 1e-3 * max(1.0, abs(measured))
    print(f"{bundle.categories[k]}: hiding the {int(hot.sum())} hottest of {hot.numel()} cells; "
          f"CAM predicts a drop of {predicted:.3f}, the head measures {measured:.3f} "
          f"(logit {float(logits[0, k]):.3f})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：教材本该挂钩子的层
#
# 写出 `find_cam_layer(model, x, candidates)`：`candidates` 是若干 `(名字, 模块)`，返回其中**输出被全局平均池化后正好送进全连接层**的那一层的名字
# （就像勘误 3 里那样用数字判断，不要凭层名猜）。检查函数先在随机生成的小残差网络上测试（三种结构，答案各不相同；评分时换新的网络），
# 再在当前模型的最后 4 层上检验你选的层满足 GAP 恒等式。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def find_cam_layer(model: nn.Module, x: torch.Tensor, candidates: list) -> str:
    """Name of the candidate whose output, globally averaged, is exactly what the fc layer reads."""
    fc_layer = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad(), hooks.Capture(candidates) as cap:
        logits = model(x)  # (1, classes)
    for name, _ in candidates:
        acts = cap.acts[name]  # (1, C, h, w)
        if acts.ndim == 4 and acts.shape[1] == fc_layer.in_features:
            if torch.allclose(fc_layer(acts.mean(dim=(2, 3))), logits, atol=1e-4):
                return name
    return ""


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_find_cam_layer(find_cam_layer, bundle):
    layers = dict(bundle.feature_layers)  # name -> module
    if bundle.name == "resnet18":
        layers["layer4.1.bn2"] = model.layer4[1].bn2  # the book's layer
    found = find_cam_layer(model, x, list(layers.items()))
    assert found == bundle.cam_layer_name
    print(f"the layer to hook in {bundle.name}: {found}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 4（概念题）：先预测，再运行——复制还是不复制？
#
# 勘误 3 的演示里，钩子把 `layer4[1].bn2` 的输出存了两份：`kept["alias"]`（不复制）和 `kept["copy"]`（复制）。
# **不要运行代码**，先回答：
#
# 1. `prediction()`：如果把钩子从 `layer4[1].bn2` 移到 `layer4[1].conv2`（`bn2` 前面的卷积层），仍然**不复制**，
#    前向结束后存下的张量还等于 `layer4` 的输出吗？返回 `True` 或 `False`；
# 2. `explanation()`：用两三句话说明为什么，以及为什么“不复制”在 `bn2` 上得到的图恰好是对的。
#
# 写好后运行下一个单元格：它会真的做这个实验，再和你的预测比较。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def prediction() -> bool:
    """Is the uncopied output of layer4[1].conv2 equal to layer4's output after the forward pass?"""
    # Model answer: False. bn2 (not in-place) writes a NEW tensor; the in-place `+=` and ReLU
    # then change bn2's output, not conv2's. conv2's output stays the raw convolution.
    return False


def explanation() -> str:
    """Two or three sentences: why, and why the book's uncopied bn2 output happens to be right."""
    return ("钩子里不复制时，存下的只是对同一块内存的引用。bn2 的输出张量后来被残差相加 out += identity 和"
            " ReLU(inplace=True) 原地改写，所以前向结束后它等于 layer4 的输出，图 9-7 碰巧是对的；"
            "conv2 的输出被 bn2 读取后生成了新的张量，原地运算改的不是它，所以它仍是卷积的原始输出，不等于 layer4 的输出。"
            "勘误 3 的演示里，复制的那份 bn2 输出近一半（0.488）是负值，不复制的那份没有负值，正说明后者被改写过。")


# %% slideshow={"slide_type": "skip"}
seen = {}
handle = demo.layer4[1].conv2.register_forward_hook(lambda m, i, o: seen.update(alias=o))
try:
    with torch.no_grad(), hooks.Capture({"layer4": demo.layer4}) as cap:
        demo(torch.randn(1, 3, 224, 224))
finally:
    handle.remove()
measured = torch.equal(seen["alias"], cap.acts["layer4"])  # the experiment, run now
if concepts.check_prediction("conv2 的输出会被改写吗", prediction, measured,
                             hint="看 BasicBlock 的前向：哪个张量被 += 和 ReLU(inplace=True) 原地改写？"):
    concepts.check_explanation("为什么", explanation)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 小结
#
# 教材 9.4 节把本章内容归纳为三点：特征图进行可视化、用类激活图（CAM）、面向 NLP 任务的可视化方法。本笔记本是第二点的前一半：
#
# - **基于类别权重的类激活映射**：CNN 部分输出 $n$ 个通道，全局平均池化后接一个 $c \times n$ 的全连接层时，`W[y, :]` 就是类别 $y$ 的类别权重；
#   $M_y = \sum_k W_{y,k} A^k$ 的平均值加偏置正好是类别 $y$ 的分数，所以它能指出“分数从图的哪里来”；
# - 它只适用于这种分类头；没有类别权重的网络（如 VGG16 的多个全连接层）要用下一节基于梯度的方法；
# - 例 9.2 的代码要改五处才可靠：加 `model.eval()`；归一化前判断分母；调色板取 `[..., :3]`；钩子挂在送进池化的层上并复制输出；
#   热力图只叠在模型看到的中心裁剪区域；
# - 读图要如实：7×7 的图只能粗略定位（火箭的例子里最大值在箭体旁边）。教材说“非负值所在的区域即为输入图像中物体所在区域”，
#   但类激活图显示的是**对这个类别的分数贡献大的区域**，它可以包括背景（发射塔），也可以漏掉物体的一部分。
#   怎样定量评价这种解释是否可信，教材没有展开，仍是可解释性研究的开放问题。
