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
# # 9.2.2 基于梯度的类激活图（CAM）
#
# 教材第 9 章 9.2 节“CNN模型决策原因的可视化方法”的第 2 小节，例 9.3（教材的模型是 VGG16，代码里是 `vgg16_bn`）。
# 教材没有给这种方法起名字；文献里它叫 **Grad-CAM**（Gradient-weighted Class Activation Mapping，Selvaraju 等，2017），下文沿用这个名字。
#
# **学习目标**
#
# 1. 知道 9.2.1 节的方法的限制：它要求分类头是“全局平均池化 + 一个全连接层”，这样才有类别权重；VGG16 的 CNN 部分输出 512×7×7 的特征图，
#    扁平化后送进多个全连接层，没有类别权重；
# 2. 会用 `Tensor.register_hook` 取中间变量的梯度，知道 PyTorch 为什么默认不保存中间变量的梯度（以及 `retain_grad`）；
# 3. 按例 9.3 的代码画出基于梯度的类激活图，并用数字看清这段代码的问题：`out[:, pre_y]` 不是概率、钩子从不移除、`backward()` 顺带算出并累加全部参数的梯度；
# 4. 知道教材的图 9-8 是 Grad-CAM 在 VGG16-bn 上对一张照片的结果；在课程的对照实验里（没有类别权重的小网络，合成图形），
#    先用干预量出网络用的证据，再看 Grad-CAM 等方法何时指对、何时被梯度平均误导；
# 5. 推导并用数字验证：在“全局平均池化 + 一个全连接层”的网络上，两种方法只差一个正的常数 $1/(hw)$；
# 6. 看目标层（target layer）由浅到深时热力图怎样变化。

# %% slideshow={"slide_type": "skip"}
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

import helpers
from helpers import attribution, cam, exercises, hooks, images, load_image, load_model, widgets
from helpers.draw import explain
from helpers.toy import world as shapes
from helpers.arrays import agreement, minmax
from helpers.trust.baselines import centre_map, random_map, sobel_map
from helpers.exercises import concepts
from helpers.toy import markers, variants
from helpers.trust import reliance

helpers.setup()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 基于梯度的思路
#
# 9.2.1 节用全连接层的类别权重 $W_{y,k}$ 衡量第 $k$ 个通道对类别 $y$ 的重要性。没有“全局平均池化 + 一个全连接层”时，就没有这样现成的权重。
# 教材的问题是：“我们如何为输出特征图的 512 个通道图像计算各自的权重？”回答是用导数：**如果特征图 $A^k$ 的某个位置变大一点，
# 类别 $y$ 的分数 $s_y$（softmax 之前的 logit）会变化多少？** 这正是梯度 $\partial s_y / \partial A^k_{ij}$。把它在所有位置上平均
# （对梯度做全局平均池化，教材代码里的 `AdaptiveAvgPool2d((1, 1))`），就得到通道 $k$ 的权重
#
# $$\alpha^y_k = \frac{1}{hw} \sum_{i,j} \frac{\partial s_y}{\partial A^k_{ij}}, \qquad
# L^y = \mathrm{ReLU}\Big(\sum_k \alpha^y_k A^k\Big).$$
#
# ReLU 只留下对类别 $y$ 起正面作用的区域。教材把 $A^k_{ij}$ 称为特征图中的“参数”；它们其实是**激活值**（activation），随输入而变，
# 不是训练得到的模型参数（权重），下文称激活值。
#
# > **勘误**（说法）：教材说“导数值越大，说明相应参数对分类的贡献越大，反之越小”，又说“如果一个通道包含做贡献大的参数越多，则该通道越重要”。
# > 导数 $\partial s_y / \partial A^k_{ij}$ 是**敏感度**（sensitivity）：这个激活值再变大一点，分数会变多少；它不是**贡献**（contribution）：
# > 分数里有多少来自这个激活值。一个激活值为 0 的位置，导数可以很大，贡献却是 0；贡献更接近“导数 × 激活值”。
# > 另外，导数**有正有负**：对位置求平均时，一个通道里正、负的导数会相互抵消，导数绝对值很大的通道，平均后的权重 $\alpha^y_k$ 也可能接近 0。
# > 在“全局平均池化 + 一个全连接层”的网络上导数处处相同，不会抵消（第 4 步）；在扁平化 + 全连接的网络上会，图 9-8 一节用数字演示。
#
# 教材说这种方法“可以适用于更多类型的网络结构”。准确地说：只要目标层输出一张有空间位置的特征图（形状 $C \times h \times w$），
# 并且从它到类别分数的计算**可求导**，就能算出 $\alpha$；分类头是什么样都行（多个全连接层、注意力……）。
# 它不适用于没有空间维的层（例如全连接层的输出），也不适用于不可求导的模型。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 1 步：张量的梯度钩子 `Tensor.register_hook`
#
# 教材的例子：$y = x^2$，$z = 4y$。在 $x = 3$ 处，$\frac{dz}{dy} = 4$，$\frac{dz}{dx} = \frac{dz}{dy}\cdot\frac{dy}{dx} = 4 \cdot 2x = 24$。
# 教材用 `register_hook` 注册的钩子 `grad_hook` 把梯度存进全局变量，用完 `handle.remove()`；下面用一个 lambda 做同样的事。

# %% slideshow={"slide_type": "-"}
x_s = torch.tensor(3.0, requires_grad=True)  # a leaf tensor: created by us, requires_grad=True
y = x_s**2
z = 4 * y
seen = {}
y.register_hook(lambda grad: seen.update(y=grad))  # called when dz/dy is computed
z.backward()
print("dz/dx =", float(x_s.grad), "(kept in x.grad)")
print("dz/dy =", float(seen["y"]), "(caught by the hook on y)")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # reading .grad of a non-leaf tensor warns
    print("y.is_leaf:", y.is_leaf, "| y.grad:", y.grad)

# %% [markdown] slideshow={"slide_type": "subslide"}
# 反向传播时 $\frac{dz}{dy}$ 明明算过（没有它就算不出 $\frac{dz}{dx}$），但 `y.grad` 是 `None`：PyTorch 只把梯度存进
# **叶子张量**（leaf tensor，例如模型参数）的 `.grad`；中间变量的梯度用完就释放。一个深度网络有成千上万个中间结果，
# 全部保存会让显存或内存的占用翻倍，而训练时只需要参数的梯度。
#
# 想留下某个中间变量的梯度，有两个办法：调用 `y.retain_grad()`，让 PyTorch 把它存进 `y.grad`；
# 或者像上面那样用 `y.register_hook(f)`，在梯度算出来的那一刻交给函数 `f`。Grad-CAM 用的是后者：
# 在前向钩子里拿到某层的输出张量，再给这个张量注册梯度钩子。

# %% slideshow={"slide_type": "-"}
x_s.grad = None
y = x_s**2
y.retain_grad()  # ask PyTorch to keep this intermediate gradient
z = 4 * y
z.backward()
print("with retain_grad: y.grad =", float(y.grad), "| x.grad =", float(x_s.grad))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 2 步：加载模型，选定目标层
#
# 教材用 torchvision 的 VGG16-bn，并把 `avgpool` 视为 CNN 部分的最后一层，目标层就是它。VGG16-bn 的 `avgpool` 是 `AdaptiveAvgPool2d((7, 7))`：
# 输入本来就是 7×7，它什么也不改变，输出就是卷积部分最后一个最大池化层的输出（512 个 7×7 的通道）。
# 离线时 `load_model` 改用课程自带的 EfficientNet-Lite0，目标层是送进全局平均池化的 `bn2`（1280 个 7×7 的通道）。
# 注意：自带模型**有**类别权重，所以第 3 步在它上面得到的图与 9.2.1 节的图 9-7 相同（第 4 步解释原因）；教材的图 9-8 是 VGG16-bn 上的结果，
# 离线时课程在第 4 步之前用一个对照实验（没有类别权重的小网络）代替它，那不是教材的图。
# **下面的层名、形状和数字以打印出的模型为准。**

# %% slideshow={"slide_type": "-"}
bundle = load_model("vgg16_bn")  # the book's model; offline: the bundled EfficientNet-Lite0
model = bundle.model
layer = bundle.gradcam_layer  # the book's target layer: avgpool for VGG16-bn
print("model in use:", bundle.name, "| source:", bundle.source)
print("target layer:", bundle.gradcam_layer_name, "|", type(layer).__name__)
print("CAM from class weights possible:", bundle.classifier_weight is not None)

# %% [markdown] slideshow={"slide_type": "subslide"}
# 目标层的格子真正看哪里？9.2.1 节（勘误 4 之后）量过：一格的有效感受野（effective receptive field）的重心，减去插值把它画在的位置。
# VGG16-bn 的下采样全是 2×2、步长 2 的最大池化，正好对准自己的 2×2 小块，所以不偏；课程模型的步长为 2 的卷积用 TensorFlow 的
# `"SAME"` 填充，会偏。数字来自 `data/erf/offsets.json`（`scripts/erf_offset.py`），课程模型的一格现场重算核对；
# 偏移达到四分之一格才要紧，这时本节后面课程模型最后一层的热力图画在测得的位置上。

# %% slideshow={"slide_type": "-"}
import json

from helpers.cam import erf

ERF = json.loads((images.DATA_DIR / "erf" / "offsets.json").read_text(encoding="utf-8"))
for key in ("vgg16_bn_random", "efficientnet_lite0"):
    r = ERF["models"][key]
    print(f"{r['label']:<38s}{r['layer']:>12s}  dy {r['mean'][0]:+6.1f} px  dx {r['mean'][1]:+6.1f} px"
          f"  = {max(map(abs, r['mean'])) / r['cell']:.2f} cell ({r['samples']} Gaussian probes)")
se = ERF["models"]["efficientnet_lite0"]["standard_error"]  # over its probes
print(f"standard error of the bundled model's mean: ({se[0]:.1f}, {se[1]:.1f}) px")
if bundle.source == "bundled":  # one cell, live, on the cache's probes
    S, row = ERF["settings"], ERF["models"]["efficientnet_lite0"]
    i, j = (n // 2 for n in row["grid"])
    probe = erf.probe_inputs(S["size"], S["samples"], S["seed"])[:row["samples"]]
    per_probe = erf.erf_centres(model, bundle.gradcam_layer_name, probe, cells=[(i, j)])  # (probes, h, w, 2)
    got = per_probe[:, i, j].mean(dim=0).tolist()
    assert np.allclose(got, row["per_cell"][i][j], atol=1e-2), (got, row["per_cell"][i][j])
    print(f"live check, cell ({i}, {j}): ({got[0]:+.2f}, {got[1]:+.2f}) px = cache")
erf_row = ERF["models"]["efficientnet_lite0" if bundle.source == "bundled" else f"{bundle.name}_random"]
SHIFT = erf.drawing_shift(erf_row["mean"], erf_row["cell"])  # (0, 0) under a quarter cell
if bundle.source != "bundled":  # trained torchvision weights: not measured, and training moves the ERF
    SHIFT = (0.0, 0.0)
    print(f"{bundle.name} with its trained weights is not in the cache: drawn unshifted")
print(f"model in use: {erf_row['label']} -> "
      + (f"maps of {bundle.gradcam_layer_name} drawn shifted by ({SHIFT[0]:+.1f}, {SHIFT[1]:+.1f}) px"
         if SHIFT != (0.0, 0.0) else f"under a quarter cell ({erf_row['cell'] / 4:.0f} px): drawn unshifted"))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 3 步：例 9.3 的代码，原样运行
#
# 下面是例 9.3 第 (1)～(4) 步的代码，按教材的顺序抄在一起。为了能在今天的库上、用课程的模型运行，改动了几处，
# 每处都标了 `# CHANGED:` 并写明原文；其余各行与教材一致（包括教材的注释）。改动的理由与 9.2.1 节相同：
#
# - `models.vgg16_bn(pretrained=True)`、Windows 路径、教材的 `Normalize([0.5]*3, [0.2]*3)`：换成 `load_model` 的模型、课程的示例图片和模型自己的预处理；
# - 第 (4) 步“跟例 9.2 后半代码相同”，所以也有同样的问题：`cm.get_cmap` 已删除（改为 `matplotlib.colormaps`）；`[:, :, 1:]` 让颜色错位（保留原样）；
#   归一化没有判断分母（全 0 的图得到 NaN）；`cv2.addWeighted(..., 0.6, ..., 0.4, 0)` 需要教材没有列出的 OpenCV（这里用 NumPy 写出同一个式子）。

# %% slideshow={"slide_type": "subslide"}
from matplotlib import colormaps  # CHANGED: the book uses `from matplotlib import cm` (cm.get_cmap)
from torchvision.transforms.functional import to_pil_image

warnings.filterwarnings("ignore", message="__array__ implementation")  # CHANGED (added): NumPy 2 warns on np.array(tensor)

model = bundle.model  # CHANGED: model = models.vgg16_bn(pretrained=True) #加载 VGG16
model.eval()


def hook_fun(model, input, output):  # 定义前向 hook
    global out_FM  # 定义全局变量，用于存放输出的特征图
    out_FM = output
    return None


layer.register_forward_hook(hook_fun)  # CHANGED: model.avgpool.register_forward_hook(hook_fun) #注册一个前向 hook
tfs = bundle.preprocess  # CHANGED: Resize(256), CenterCrop(224), ToTensor(), Normalize([0.5]*3, [0.2]*3)
img_path = images.sample_path("cat")  # CHANGED: path + '\\' + name with name = 'both.png' (Windows only)
img = Image.open(img_path).convert('RGB')  # 打开图片并转换为 RGB 模型
origin_img = img  # 保存原图
img = tfs(img)  # 转化为张量
img = torch.unsqueeze(img, 0)  # 增加 batch 维度
out = model(img)  # 执行该语句后，out_FM 才产生
pre_y = torch.argmax(out).item()  # 预测类别


def grad_hook(grad):  # 定义一个后向 hook
    global temp_grad  # 定义全局变量，用于存放梯度
    temp_grad = grad
    return None


out_FM.register_hook(grad_hook)  # 对 out_FM 注册一个反向 hook

pre_class = out[:, pre_y]
pre_class.backward()  # 执行该语句后，temp_grad 才产生
out_FM = out_FM[0]  # torch.Size([512, 7, 7])
temp_grad = temp_grad[0]  # torch.Size([512, 7, 7])
weights = torch.nn.AdaptiveAvgPool2d((1, 1))(temp_grad)  # 对各通道平均池化
weighted_FM = weights * out_FM
weighted_FM = weighted_FM.sum(0)  # torch.Size([7, 7])

weighted_FM = torch.relu(weighted_FM)**2
weighted_FM = (weighted_FM-weighted_FM.min()) \
               /(weighted_FM.max()-weighted_FM.min())  # 归一化
weighted_FM = to_pil_image(np.array(weighted_FM.detach()), mode='F')
expanded_FM = weighted_FM.resize(origin_img.size, resample=Image.BICUBIC)
expanded_FM = 255 * colormaps['jet'](np.array(expanded_FM))[:, :, 1:]  # CHANGED: cm.get_cmap('jet')
expanded_FM = expanded_FM.astype(np.uint8)
CAM = np.clip(np.rint(0.6 * np.array(origin_img) + 0.4 * np.array(expanded_FM)), 0, 255).astype(np.uint8)  # CHANGED: cv2.addWeighted(np.array(origin_img), 0.6, np.array(expanded_FM), 0.4, 0)

print(f"pre_y = {pre_y} ({bundle.categories[pre_y]}) | out_FM {tuple(out_FM.shape)} | "
      f"temp_grad {tuple(temp_grad.shape)} | CAM {CAM.shape}")
print("hooks left on the model:", hooks.count_hooks(model))

# %% [markdown] slideshow={"slide_type": "subslide"}
# 代码跑通了，但最后一行打印出：**模型上还挂着一个钩子**。下面逐条用数字看例 9.3 的问题。
#
# **(a) `out[:, pre_y]` 不是概率。** 教材说“获取网络的概率预测值 `out[:, pre_y]`”，但 `out` 是 softmax **之前**的分数（logit），
# 可以大于 1，也可以为负；概率要 `out.softmax(dim=1)`。Grad-CAM 的论文正是从 softmax 之前的分数求导的，所以代码是对的，说法不对。

# %% slideshow={"slide_type": "-"}
acts, grads = out_FM.detach().clone()[None], temp_grad.clone()[None]  # (1, C, h, w): the book's A and dA
raw_book = (weights * out_FM).sum(0).detach()  # (h, w): the book's weighted_FM before ReLU
cam_book = np.array(weighted_FM)  # (h, w): after ReLU, square and min-max
logits_book = out.detach()  # (1, 1000)
print(f"out[:, pre_y] = {float(logits_book[0, pre_y]):.3f} (a logit) | softmax probability = "
      f"{float(logits_book.softmax(dim=1)[0, pre_y]):.3f} | "
      f"logits range [{float(logits_book.min()):.3f}, {float(logits_book.max()):.3f}]")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **(b) 钩子从不移除。** 例 9.2 保存了 `handle` 并在用完后 `handle.remove()`；例 9.3 的 `model.avgpool.register_forward_hook(hook_fun)`
# 连返回值都没有保存。教材是把代码作为 `.py` 文件运行的（“执行由上述代码构成的.py 文件，产生如图 9-8 所示的结果”）：
# 运行一次，进程结束，钩子也就没了，这样没有问题。**在笔记本里**就不同了：把这个单元格再运行一次，就会再挂上一个钩子，每次前向，钩子被调用两次；
# 之后任何人用这个模型做前向，都会触发 `hook_fun`，悄悄改写全局变量 `out_FM`。这是在笔记本里用这段代码的隐患，不是教材的错。下面模拟“再运行一次”：

# %% slideshow={"slide_type": "-"}
calls = {"n": 0}
layer.register_forward_hook(lambda m, i, o: calls.update(n=calls["n"] + 1))  # the cell, run a second time
print("hooks on the model after running the cell twice:", hooks.count_hooks(model))
with torch.no_grad():
    model(img)  # any later forward pass
print("one forward pass later: the stacked hooks ran", 1 + calls["n"], "times (hook_fun and the copy)")
print("and hook_fun silently replaced the global out_FM: its shape is now", tuple(out_FM.shape),
      "instead of", tuple(acts.shape[1:]))
layer._forward_hooks.clear()  # without the handles there is no clean way: the book's code should keep them
print("hooks after clearing them by hand:", hooks.count_hooks(model))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **(c) `backward()` 算出了全部参数的梯度，而且会累加。** 我们只需要 $\partial s_y / \partial A$，但 `pre_class.backward()`
# 一直反向传播到输入，顺带把模型**每个参数**的 `.grad` 都填上了（VGG16-bn 有 1.38 亿个参数），教材的代码从不清零。
# 作为 `.py` 运行一次，`temp_grad` 是对的，只是多算了这些梯度；**在笔记本里**再运行一次，第二次的梯度会**加到**第一次的上面：

# %% slideshow={"slide_type": "-"}
params = [p for p in model.parameters() if p.requires_grad]
n_filled = sum(p.grad is not None for p in params)
probe = next(p for p in params if p.grad is not None and p.grad.abs().sum() > 0)
first_grad = probe.grad.clone()
model(img)[:, pre_y].backward()  # the book's forward and backward, run once more
print(f"parameters with a .grad after one backward(): {n_filled} of {len(params)} tensors, "
      f"{sum(p.numel() for p in params if p.grad is not None)} numbers")
print(f"after a second run the same .grad is {float(probe.grad.norm() / first_grad.norm()):.3f} times as large")
model.zero_grad(set_to_none=True)  # free them
print("after model.zero_grad(set_to_none=True):", sum(p.grad is not None for p in params), "tensors hold a .grad")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 对 Grad-CAM 本身，累加的参数梯度没有影响（它读的是 `temp_grad`），但它白白占用与模型一样多的内存；如果随后在同一个模型上训练，
# 忘了清零就会带着错误的梯度更新参数。**改正**：保存句柄并在 `finally` 里移除；只对目标层求导：
# `torch.autograd.grad(score, acts)` 不碰参数的 `.grad`。`cam.grad_cam` 就是这样做的（它还在调用期间暂时关掉参数的 `requires_grad`）。
# 下面核对它与教材代码的结果一致，并且调用后模型上没有钩子、没有 `.grad`：

# %% slideshow={"slide_type": "-"}
idx = pre_y
image = load_image("cat")
x = bundle.to_input(image)  # (1, 3, 224, 224)
res = cam.grad_cam(model, layer, x)  # class_idx=None: the top-1 class
assert res.class_idx == idx
assert torch.allclose(res.weights, weights.flatten(), rtol=1e-4, atol=1e-7)
assert torch.allclose(res.raw, raw_book, rtol=1e-4, atol=1e-5)
assert np.allclose(minmax(res.raw.clamp(min=0) ** 2).numpy(), cam_book, atol=1e-4)
print("the book's code == cam.grad_cam; hooks left:", hooks.count_hooks(model),
      "| parameters with a .grad:", sum(p.grad is not None for p in model.parameters()))

# %% [markdown] slideshow={"slide_type": "subslide"}
# 例 9.3 的代码在课程自带模型上画出的图（左：教材的颜色；右：改正颜色 `[..., :3]`，混合权重同为 0.6 : 0.4）。
# 自带模型有类别权重，所以这张图和 9.2.1 节的图 9-7 一模一样（第 4 步证明）；只有用 VGG16-bn 的权重时，这里画的才是教材的图 9-8。

# %% slideshow={"slide_type": "-"}
heat = np.clip(np.array(weighted_FM.resize(origin_img.size, resample=Image.BICUBIC)), 0, 1)  # (H, W)
photo = np.asarray(origin_img, dtype=np.float32) / 255  # (H, W, 3)
fixed = np.clip(0.6 * photo + 0.4 * colormaps["jet"](heat)[..., :3], 0, 1)  # (H, W, 3)
shifted = matplotlib.colors.ListedColormap(colormaps["jet"](np.linspace(0, 1, 256))[:, 1:])  # G, B, A as RGB
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=60, layout="constrained")
for ax, picture, cmap_, title in ((axes[0], CAM, shifted, "例 9.3 的代码：[:, :, 1:]"),
                                  (axes[1], fixed, "jet", "改正颜色：[..., :3]")):
    ax.imshow(picture)
    fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), cmap_), ax=ax,
                 fraction=0.046, label="归一化的类激活值")
    ax.set_title(f"{title}（{bundle.name}，{bundle.categories[idx]}）", fontsize=10)
    ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 图 9-8：教材的图，和课程的对照实验
#
# 教材在例 9.3 之后写道：“执行由上述代码构成的.py 文件，产生如图 9-8 所示的结果。”又说：“直觉告诉我们，利用梯度构建的类激活图的效果也很好，
# 似乎更能聚焦关键部位，而且这种方法可以适用于更多类型的网络结构。”教材的图 9-8 是 **Grad-CAM 在 VGG16-bn 上、对一张照片**
# （教材代码里的 `models.vgg16_bn(pretrained=True)` 和 `both.png`）的结果。VGG16-bn 的 CNN 部分输出 512×7×7，扁平化后送进三个全连接层，
# 没有类别权重，所以 9.2.1 节的方法用不了，只能靠梯度。在真正的 VGG16 上 Grad-CAM 能很好地定位物体：这是 Selvaraju 等（2017）
# 在 ImageNet 上报告的结果（引自他们的论文，不是本课程的测量）。缓存了 torchvision 的 VGG16-bn 权重时，上面第 3 步画的就是教材的图 9-8。
#
# 离线时没有 VGG16-bn 的权重，课程自带的 EfficientNet-Lite0 又**有**类别权重（第 3 步的图就是图 9-7）。所以下面不是教材的图 9-8，
# 而是课程自己的**对照实验**：一次只改一处（同一个网络换方法；同一个方法换分类头），并且先**量出**网络用的是什么证据，再看热力图指得对不对。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 合成图形世界（toy world）
#
# 实验用一个合成的图形世界（`helpers.toy.world`，本课程在这里第一次用到它，9.4 节的笔记本还会用）：64×64 的图片，平滑的条纹/噪声背景，
# 上面一个纯色图形，六类：圆形、正方形、三角形、五角星、十字、圆环，位置、大小、旋转、颜色随机。每个图形的像素位置（掩码，mask）已知。
# 五个小网络用**同一个主干**（四个“卷积-BN-ReLU”块，8-16-32-32 个通道，输出 32×8×8），只有分类头不同；它们用同样的图片、
# 同样的种子和同样的训练配方训练（`scripts/train_shapes.py`、`scripts/train_toy_nets.py`）。下面在没参加训练的图片上量它们的准确率，
# 并**用干预量出它们用的证据**：把图形涂成背景的平均颜色（“去掉图形”），再把一块同样面积的背景同样涂掉（对照）。

# %% slideshow={"slide_type": "subslide"}
threads = torch.get_num_threads()
torch.set_num_threads(1)  # the toy nets are tiny: one thread is fastest on a shared CPU
HEADS = {"vgg": "最大池化→扁平化→FC-ReLU-FC", "vgg_nopool": "扁平化→FC-ReLU-FC",
         "vgg_pool_linear": "最大池化→扁平化→一个线性层", "vgg_linear": "扁平化→一个线性层",
         "gap": "全局平均池化→一个线性层"}
nets = {k: shapes.load_net(k) if k in shapes.KINDS else variants.load_toy_net(k) for k in HEADS}
toy = shapes.make_batch(500, seed=7)  # held-out: the nets were trained on seed 0
toy_y, toy_mask = toy.labels[:, 0], toy.masks[:, 0]  # (500,), (500, 64, 64)
no_marker = torch.zeros_like(toy_mask)  # this world has no marker
plain = {k: reliance.reliance_table(n, toy.images, toy_y, toy_mask, no_marker) for k, n in nets.items()}
print(f"{len(toy)} held-out images; accuracy of each net (chance 1/6 = {1 / 6:.3f})")
print(f"{'net':<16s}{'original':>9s}{'shape removed':>15s}{'control patch':>15s}   head")
for k, t in plain.items():
    print(f"{k:<16s}{t['original']['accuracy']:>9.3f}{t['no shape']['accuracy']:>15.3f}"
          f"{t['control']['accuracy']:>15.3f}   {HEADS[k]}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 五个网络都几乎全对；去掉图形后都掉到接近瞎猜，涂掉同样大的一块背景却几乎没有影响（数字见上）。所以在这个世界里，
# **图形就是网络用的证据**：一张好的热力图应当指向图形。“指向”用两个数衡量：
#
# - **指点游戏**（pointing game，Zhang 等 2016）：图的最大值落在图形上（或离它不到 4 个像素：Zhang 等在约 224 像素的图上允许 15 个像素，
#   按 64 像素缩小）的比例；
# - **能量**（energy）：图的总量中落在图形上的份额。
#
# 对照（baseline）是三张不看网络的图：图片中心的一个鼓包（中心对照，照片上很强，因为物体常在中间）、随机噪声、图片自己的 Sobel 边缘。

# %% slideshow={"slide_type": "subslide"}
N_MAPS = 48  # the first 48 held-out images
TOL = round(15 * 64 / 224)  # the pointing game's 15 px tolerance at 224 px, scaled to 64 px
x_toy, y_toy, m_toy = toy.images[:N_MAPS].clone(), toy_y[:N_MAPS].tolist(), toy_mask[:N_MAPS].clone()
del toy, toy_mask, no_marker  # only these 48 images are used below: free the 500 (a slice would keep them)
base_maps = {"centre": np.stack([centre_map((64, 64))] * N_MAPS),
             "random": np.stack([random_map((64, 64), seed=i) for i in range(N_MAPS)]),
             "sobel": np.stack([sobel_map(x_toy[i:i + 1]) for i in range(N_MAPS)])}
toy_res = {(k, name): cam.METHODS[name](n, shapes.target_layer(n), x_toy, y_toy)  # 48 images each
           for k, n in nets.items() for name in ("grad_cam", "hires_cam", "score_cam")}
toy_maps = {key: r.cam for key, r in toy_res.items()}  # (net, method) -> (48, 64, 64)
scores = {key: reliance.evidence_scores(m, m_toy, TOL) for key, m in toy_maps.items()}
scores.update({("baseline", b): reliance.evidence_scores(m, m_toy, TOL) for b, m in base_maps.items()})
print(f"the shapes cover {float(m_toy.float().mean()):.3f} of the image; {N_MAPS} images")
print(f"{'net':<16s}{'method':<11s}{'pointing':>9s}{'energy':>8s}")
for (k, name), s in scores.items():
    print(f"{k:<16s}{name:<11s}{s['pointing']:>9.3f}{s['energy']:>8.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 实验 1：同一个网络（vgg），换方法
#
# 左起：图片（白线是图形的真实位置）；vgg 网络上的 Grad-CAM、HiRes-CAM（不求平均，逐位置用梯度乘激活值，Draelos & Carin 2020）、
# Score-CAM（不用梯度，用遮罩后的分数，Wang 等 2020）；最右是 gap 网络上的 Grad-CAM（它在 gap 网络上等于 9.2.1 节的 CAM，第 4 步证明）。

# %% slideshow={"slide_type": "subslide"}
cols = [("vgg", "grad_cam"), ("vgg", "hires_cam"), ("vgg", "score_cam"), ("gap", "grad_cam")]
fig, axes = plt.subplots(3, 5, figsize=(11, 7), dpi=60, layout="constrained")
for i in range(3):
    picture = Image.fromarray((x_toy[i].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    picture = picture.resize((192, 192), Image.Resampling.NEAREST)  # bigger, for the eye
    outline = np.kron(m_toy[i].numpy(), np.ones((3, 3)))  # (192, 192)
    axes[i, 0].imshow(picture)
    axes[i, 0].set_title(shapes.CLASS_NAMES_ZH[y_toy[i]], fontsize=10)
    for ax, (k, name) in zip(axes[i, 1:], cols):
        ax.imshow(explain.overlay_explanation(picture, toy_res[k, name], i, alpha=0.5))  # the one path
        ax.contour(outline, levels=[0.5], colors="white")
        ax.set_title(f"{k} · {name}", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet"), ax=axes[:, 1:],
             fraction=0.03, label="归一化的热力值")
fig.suptitle("课程的对照实验（合成图形，不是教材的图 9-8）· 白线：图形的真实位置")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 实验 2：同一个方法（Grad-CAM），一次只换分类头的一处
#
# vgg → vgg_nopool 只去掉扁平化前的最大池化；vgg → vgg_pool_linear 只去掉隐藏的全连接层；vgg_linear 两样都去掉；gap 把扁平化换成全局平均池化。
# 下一格从上表的数字里打印结论。

# %% slideshow={"slide_type": "-"}
gc = {k: scores[k, "grad_cam"]["pointing"] for k in HEADS}
hr = {k: scores[k, "hires_cam"]["pointing"] for k in HEADS}
centre_pt = scores["baseline", "centre"]["pointing"]
steps = {"remove the max pool": ("vgg", "vgg_nopool"),
         "remove the hidden FC layer": ("vgg", "vgg_pool_linear"),
         "then remove the max pool": ("vgg_pool_linear", "vgg_linear"),
         "flatten -> global average pooling": ("vgg_linear", "gap")}
for change, (a, b) in steps.items():
    print(f"{a} -> {b} ({change}): Grad-CAM pointing {gc[a]:.3f} -> {gc[b]:.3f}, "
          f"HiRes-CAM {hr[a]:.3f} -> {hr[b]:.3f}")
first = {c: gc[b] - gc[a] for c, (a, b) in list(steps.items())[:2]}  # the two changes made to vgg
cause = max(first, key=first.get)
print(f"of the two single changes to vgg, '{cause}' moves Grad-CAM's pointing most "
      f"({first[cause]:+.3f}; the other: {min(first.values()):+.3f}).")
print(f"not averaging, on the same vgg net (Grad-CAM -> HiRes-CAM): {gc['vgg']:.3f} -> {hr['vgg']:.3f}; "
      f"on vgg_pool_linear (one linear head): {gc['vgg_pool_linear']:.3f} -> {hr['vgg_pool_linear']:.3f}")
print(f"shape removed, accuracy of vgg: {plain['vgg']['no shape']['accuracy']:.3f} "
      f"(control patch {plain['vgg']['control']['accuracy']:.3f})")
sobel_pt = scores["baseline", "sobel"]["pointing"]
print(f"baselines: centre {centre_pt:.3f}, Sobel edges {sobel_pt:.3f}, "
      f"random {scores['baseline', 'random']['pointing']:.3f}; Grad-CAM beats the centre on "
      f"{[k for k in HEADS if gc[k] > centre_pt]} and the Sobel map on {[k for k in HEADS if gc[k] > sobel_pt]}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 怎么读这几行：每一处改动检验一个猜想。
#
# - **网络看的是背景？** 那么去掉图形后它仍会答对。干预表（上面第一张表）回答这个问题。
# - **最大池化让梯度变稀疏？**（每个 2×2 窗口里只有最大的那个位置有梯度）那么只去掉最大池化（vgg → vgg_nopool）就该修好 Grad-CAM。
# - **带 ReLU 的隐藏全连接层？** 梯度只是这个非线性分类头在当前输入处的局部斜率，每个位置有自己的权重，正负交错；
#   那么只去掉隐藏层（vgg → vgg_pool_linear）就该修好 Grad-CAM。
# - **只是“平均”这一步？** 那么不求平均的 HiRes-CAM 在 vgg 上就不该失败。
#
# 上一格打印的是这些比较的结果；结论以打印为准。最后一行是对照：这个世界里图形是纯色的，图形的轮廓往往是全图最强的边缘，
# 所以“只找边缘”的 Sobel 图在这里的指点游戏里也可能得分很高。指点游戏分不出“看网络”和“只找边缘”时，要靠实验 3 的模型对比。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 梯度求平均时，正负会相消
#
# 教材说：“导数值越大，说明相应参数对分类的贡献越大”。导数是**灵敏度**（sensitivity）：$A^k_{ij}$ 变大一点，分数变多少；
# 它不是贡献。vgg_linear 的分类头只有一个线性层，分数 $s_y = \sum_{k,i,j} W_{y,kij} A^k_{ij} + b_y$，
# 所以梯度 $\partial s_y / \partial A^k_{ij} = W_{y,kij}$：对**每张图都一样**，与图里有什么无关；真正的贡献是 $W_{y,kij} A^k_{ij}$。
# 这时 HiRes-CAM 的图（不做 ReLU）加起来正好是 $s_y - b_y$，而 Grad-CAM 先把 $W_{y,kij}$ 在 8×8 个位置上平均：
# 有正有负的梯度在平均时相消。下面量出相消了多少。

# %% slideshow={"slide_type": "-"}
lin = nets["vgg_linear"]
lin_layer = shapes.target_layer(lin)
W = lin.classifier[-1].weight.detach().view(6, 32, 8, 8)  # d s_y / d A^k_ij, the same for every image
bias = lin.classifier[-1].bias.detach()  # (6,)
x20 = x_toy[:20]  # the first 20 held-out images
with torch.no_grad():
    logits20 = lin(x20)  # (20, 6)
worst, gc_sums, hr_sums = 0.0, [], []
for y in range(6):
    hres = cam.hires_cam(lin, lin_layer, x20, [y] * 20)
    gres = cam.grad_cam(lin, lin_layer, x20, [y] * 20)
    assert torch.allclose(gres.weights[0], W[y].mean(dim=(1, 2)), atol=1e-6)  # alpha = mean of W
    total = torch.as_tensor(hres.raw).sum(dim=(1, 2)) + bias[y]  # (20,)
    worst = max(worst, float((total - logits20[:, y]).abs().max()))
    gc_sums.append(torch.as_tensor(gres.raw).sum(dim=(1, 2)))
    hr_sums.append(logits20[:, y] - bias[y])
kept = (W.sum(dim=(2, 3)).abs() / W.abs().sum(dim=(2, 3))).flatten()  # (6 * 32,)
corr = float(np.corrcoef(torch.cat(gc_sums).numpy(), torch.cat(hr_sums).numpy())[0, 1])
print(f"HiRes-CAM: sum of the map + bias = logit, largest error over 6 classes x 20 images: {agreement(worst, 1e-4)}")
print(f"|sum over the 8x8 positions of the gradient| / sum of |gradient|, per (class, channel): "
      f"median {float(kept.median()):.3f}, quartiles {float(kept.quantile(0.25)):.3f}-"
      f"{float(kept.quantile(0.75)):.3f}")
print(f"so averaging cancels a median {1 - float(kept.median()):.0%} of the gradient's mass; "
      f"correlation of Grad-CAM's map sum with the logit (minus bias) over 120 (image, class) pairs: {corr:.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 实验 3：已知答案的网络——网络用的是图形，还是一个标记？
#
# 上面的“答案”是图形在哪里。但热力图声称的是**网络用了什么**；网络完全可能靠别的东西分类。下面造三个用的证据**由构造决定**的网络
# （SMERF，Kim 等 2021；BAM，Yang & Kim 2019 的思路，代码是课程自己的）：每张图的一个角上加一个 8×8 的棋盘格**标记**（marker），
# 标记的颜色是一个类别编码（`helpers.toy.markers`）。三个网络结构相同（gap 网络），训练数据不同：
#
# - `marker_shape`：训练时标记的颜色随机，**只有图形**带着类别；
# - `marker_hans`：训练时图形的类别随机，**只有标记**带着类别——“聪明的汉斯”（Clever Hans）式的捷径网络；
# - `marker_both`：训练时图形和标记都带着类别，它用哪个，要量。
#
# 测试图片里图形和标记一致（两者都指向正确答案），再分别去掉图形、去掉标记、两个都去掉，以及涂掉同样面积的一块背景（对照）。

# %% slideshow={"slide_type": "subslide"}
mk = {k: variants.load_toy_net(k) for k in variants.MARKER_NETS}
world = markers.make_marker_batch(500, seed=7, agree=True)  # held-out; marker class = shape class
indep = markers.make_marker_batch(500, seed=7, agree=False)  # the same images, marker class random
table = {k: reliance.reliance_table(n, world.images, world.shape_labels, world.shape_masks,
                                    world.marker_masks) for k, n in mk.items()}
used = {k: reliance.used_regions(t) for k, t in table.items()}
for k, n in mk.items():
    label = indep.marker_labels if variants.MARKER_NETS[k] == "marker" else indep.shape_labels
    with torch.no_grad():
        acc = float((n(indep.images).argmax(dim=1) == label).float().mean())
    print(f"{k}: held-out accuracy on its own task (marker independent of shape) {acc:.3f}")
del indep  # not used below: free its images
print(f"\naccuracy / mean logit of the true class, {len(world)} held-out images")
print(f"{'net':<14s}" + "".join(f"{c:>16s}" for c in reliance.CONDITIONS) + "   uses")
for k, t in table.items():
    print(f"{k:<14s}" + "".join(f"{t[c]['accuracy']:>8.3f} /{t[c]['logit']:>6.2f}"
                                for c in reliance.CONDITIONS) + f"   {' + '.join(used[k]) or 'neither'}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 这张表是下面所有判断的**依据**（ground truth）：“uses”一列由数字决定（去掉某块证据时，真实类别的 logit 下降得比对照多、
# 且至少是两样都去掉时下降量的 1/4，`reliance.used_regions`）。接着让注册表里的每一种方法（`cam.METHODS` 的类激活图方法和 `attribution.ATTRIBUTIONS` 的像素归因方法，数目见下一格的表）在同样的图片上解释
# 同样的类别，问两件事：
#
# 1. **指向证据**：图的最大值是否落在该网络**实际用的**证据上（指点游戏），对照是中心、随机和 Sobel 边缘三张图；
# 2. **模型对比**（model contrast）：同样的图片，`marker_shape` 的图是否比 `marker_hans` 的图更多地落在图形上，而 `marker_hans` 的图更多地落在标记上？
#    网络变了、图不跟着变的方法，画的不是网络用的东西。

# %% slideshow={"slide_type": "subslide"}
N_WORLD = 24
xw, yw = world.images[:N_WORLD].clone(), world.shape_labels[:N_WORLD].tolist()
sm, mm = world.shape_masks[:N_WORLD].clone(), world.marker_masks[:N_WORLD].clone()
del world  # only these 24 images are used below: free the 500 (a slice would keep them)
OPTIONS = {"occlusion": {"window": 8, "stride": 8}, "integrated_gradients": {"steps": 8},
           "smoothgrad": {"samples": 8}, "rise": {"count": 200}}  # RISE: 200 masks per toy image
wmaps = {k: attribution.every_map(n, shapes.target_layer(n), xw, yw, options=OPTIONS) for k, n in mk.items()}
region = {"shape": sm, "marker": mm}
evidence = {k: region[used[k][0]] | region[used[k][-1]] for k in mk if used[k]}
wbase = {"centre": base_maps["centre"][:N_WORLD], "random": base_maps["random"][:N_WORLD],
         "sobel": np.stack([sobel_map(xw[i:i + 1]) for i in range(N_WORLD)])}
print(f"pointing game / energy on the evidence each net uses ({N_WORLD} images); "
      f"model contrast shape vs hans net")
print(f"{'method':<22s}" + "".join(f"{k:>16s}" for k in evidence) + f"{'moved':>8s}{'shift':>8s}")
contrast = {}
for name in [*wmaps["marker_shape"], *wbase]:
    if name in wbase:
        row = {k: reliance.evidence_scores(wbase[name], e, TOL) for k, e in evidence.items()}
        contrast[name] = {"moved": 0.0, "shift_a": 0.0}  # a baseline ignores the network
    else:
        row = {k: reliance.evidence_scores(wmaps[k][name], e, TOL) for k, e in evidence.items()}
        contrast[name] = reliance.model_contrast(wmaps["marker_shape"][name], wmaps["marker_hans"][name],
                                                 sm, mm)
    print(f"{name:<22s}" + "".join(f"{v['pointing']:>9.3f} /{v['energy']:>5.2f}" for v in row.values())
          + f"{contrast[name]['moved']:>8.3f}{contrast[name]['shift_a']:>8.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 每格是“指点率 / 能量”。“moved”：图片中两张图都往正确方向移动的比例（`marker_shape` 的图在图形上的能量多于 `marker_hans` 的，且 `marker_hans` 的图在标记上的能量多于
# `marker_shape` 的）；“shift”：图形上能量份额的平均差。对照图不看网络，移动为 0。下图是同一张图片上三个网络的 Grad-CAM。

# %% slideshow={"slide_type": "subslide"}
ZH = {"shape": "图形", "marker": "标记"}
shown = {k: cam.METHODS["grad_cam"](n, shapes.target_layer(n), xw[:2], yw[:2]) for k, n in mk.items()}
assert all(np.allclose(shown[k].cam, wmaps[k]["grad_cam"][:2], atol=1e-6) for k in mk)  # the same maps
fig, axes = plt.subplots(2, 4, figsize=(9.5, 5), dpi=60, layout="constrained")
for row, i in enumerate((0, 1)):
    picture = Image.fromarray((xw[i].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    picture = picture.resize((192, 192), Image.Resampling.NEAREST)
    outline = np.kron((sm[i] | mm[i]).numpy(), np.ones((3, 3)))  # (192, 192)
    axes[row, 0].imshow(picture)
    axes[row, 0].set_title(f"{shapes.CLASS_NAMES_ZH[yw[i]]}（图形与标记一致）", fontsize=9)
    for ax, k in zip(axes[row, 1:], mk):
        ax.imshow(explain.overlay_explanation(picture, shown[k], i, alpha=0.5))  # layer map -> 192 px once
        ax.contour(outline, levels=[0.5], colors="white")
        ax.set_title(f"{k}（用{'和'.join(ZH[r] for r in used[k])}）", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet"), ax=axes[:, 1:],
             fraction=0.03, label="归一化的 Grad-CAM 值")
fig.suptitle("同一张图片，三个网络：Grad-CAM 跟着网络用的证据走吗？（白线：图形和标记）")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 读这些数字
#
# 结论由下一格从上面的变量打印出来（不是手写的）。

# %% slideshow={"slide_type": "-"}
hans, shape_t = table["marker_hans"], table["marker_shape"]
print(f"1. Clever Hans net: accuracy {hans['original']['accuracy']:.3f}; without the marker "
      f"{hans['no marker']['accuracy']:.3f}, without the shape {hans['no shape']['accuracy']:.3f}. "
      f"Shape net: without the shape {shape_t['no shape']['accuracy']:.3f}, without the marker "
      f"{shape_t['no marker']['accuracy']:.3f}. The net trained with both uses: {' + '.join(used['marker_both'])}.")
methods = [m for m in contrast if m not in wbase]
always = [m for m in methods if contrast[m]["moved"] == 1.0]
print(f"2. Model contrast: {len(always)} of {len(methods)} methods move from shape to marker on every "
      f"image; the lowest share is {min(contrast[m]['moved'] for m in methods):.3f} "
      f"({min(methods, key=lambda m: contrast[m]['moved'])}); the baselines cannot move (0).")
hans_pt = {m: reliance.evidence_scores(wmaps["marker_hans"][m], mm, TOL)["pointing"] for m in methods}
shape_pt = {m: reliance.evidence_scores(wmaps["marker_shape"][m], sm, TOL)["pointing"] for m in methods}
sobel_hans = reliance.evidence_scores(wbase["sobel"], mm, TOL)["pointing"]
sobel_shape = reliance.evidence_scores(wbase["sobel"], sm, TOL)["pointing"]
print(f"3. The Sobel edge map points at the marker {sobel_hans:.3f} and at the shape {sobel_shape:.3f}: "
      f"the checkerboard has the strongest edges. Methods at or above Sobel on the Clever Hans net: "
      f"{[m for m in methods if hans_pt[m] >= sobel_hans]}; of these, on the shape net: "
      f"{ {m: round(shape_pt[m], 3) for m in methods if hans_pt[m] >= sobel_hans} }.")
print(f"4. On the plain shapes, Grad-CAM points at the shape: vgg {gc['vgg']:.3f}, vgg_linear "
      f"{gc['vgg_linear']:.3f}, gap {gc['gap']:.3f}; HiRes-CAM on vgg {hr['vgg']:.3f}; "
      f"centre baseline {centre_pt:.3f}.")
torch.set_num_threads(threads)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 4 步：基于梯度的方法是基于类别权重的方法的推广
#
# 对“全局平均池化 + 一个全连接层”的网络，$s_y = \sum_k W_{y,k} \frac{1}{hw}\sum_{i,j} A^k_{ij} + b_y$，所以
# $\frac{\partial s_y}{\partial A^k_{ij}} = \frac{W_{y,k}}{hw}$ 在每个位置都一样，平均后 $\alpha^y_k = \frac{W_{y,k}}{hw}$，于是
#
# $$\sum_k \alpha^y_k A^k = \frac{1}{hw} \sum_k W_{y,k} A^k = \frac{1}{hw} M_y .$$
#
# 两种方法只差一个正的常数 $1/(hw)$；ReLU 和归一化之后，两张图完全相同。这就是为什么第 3 步在自带模型上得到的图和图 9-7 一样，
# 也是为什么要看基于梯度的方法能做什么，得换一个没有类别权重的网络（教材的 VGG16-bn，或上面的对照实验）。
# VGG16-bn 不是这种结构，所以这里用 resnet18（离线时是自带的 EfficientNet-Lite0）来验证，目标层是送进全局平均池化的那一层。

# %% slideshow={"slide_type": "subslide"}
gap = bundle if bundle.classifier_weight is not None else load_model("resnet18")
x_gap = gap.to_input(image)  # (1, 3, 224, 224)
g = cam.grad_cam(gap.model, gap.cam_layer, x_gap)
c = cam.class_weight_cam(gap.model, gap.cam_layer, gap.classifier_weight, x_gap, g.class_idx)
h, w = g.raw.shape
print(f"{gap.name}, layer {gap.cam_layer_name}, class {gap.categories[g.class_idx]}, map {h}×{w}")
print(f"W[y, k] / alpha_k: min {float((c.weights / g.weights).min()):.3f}, "
      f"max {float((c.weights / g.weights).max()):.3f} (h*w = {h * w})")
assert torch.allclose(g.weights * (h * w), c.weights, rtol=1e-3, atol=1e-6)
assert torch.allclose(c.raw, g.raw * (h * w), rtol=1e-4, atol=1e-4)
assert np.allclose(c.cam, g.cam, atol=1e-4)
print("CAM == (h*w) * Grad-CAM before ReLU; after ReLU and min-max the maps are identical:",
      f"max difference {np.abs(c.cam - g.cam).max():.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 5 步：目标层的选择
#
# Grad-CAM 可以挂在任何输出空间特征图、且到类别分数可求导的层上。下面在每种特征图尺寸（56、28、14、7）各取**最后**一层作为目标层，
# 对同一张“猫 + 咖啡”的照片分别解释“猫”和“杯子”两个类别。层的列表由模型算出，所以对 VGG16-bn 和 EfficientNet-Lite0 都适用。

# %% slideshow={"slide_type": "subslide"}
both = load_image("cat_and_cup")
x_both = bundle.to_input(both)  # (1, 3, 224, 224)
crop = both.crop(bundle.crop_box(both.size)).resize((224, 224), Image.Resampling.BICUBIC)
sizes = hooks.capture_activations(model, x_both, bundle.feature_layers)
last_at = {}
for name, a in sizes.items():  # in forward order: a later layer of the same size wins
    last_at[a.shape[-1]] = name
targets = [last_at[s] for s in sorted(last_at, reverse=True) if s <= 56]
probs = cam.grad_cam(model, layer, x_both).probs
classes = {label: max((bundle.categories.index(n) for n in names), key=lambda k: float(probs[k]))
           for label, names in (("猫", ("tabby", "tiger cat", "Egyptian cat")),
                                ("杯子", ("cup", "espresso", "coffee mug")))}

fig, axes = plt.subplots(2, len(targets), figsize=(2.8 * len(targets), 5.6), dpi=60, layout="constrained")
for row, (label, k) in enumerate(classes.items()):
    for col, name in enumerate(targets):
        r = cam.grad_cam(model, name, x_both, class_idx=k)
        left = float(r.cam[:, :112].sum() / max(r.cam.sum(), 1e-12))  # share of the map on the cat
        print(f"{bundle.categories[k]:<12s} {name:<12s} {r.raw.shape[0]:>2d}×{r.raw.shape[1]:<2d}"
              f" share on the left (cat) half: {left:.3f}")
        s = SHIFT if name == bundle.gradcam_layer_name else (0.0, 0.0)  # measured for that layer only
        axes[row, col].imshow(explain.overlay_explanation(crop, r, alpha=0.5, shift=s))
        axes[row, col].set_title(f"{label} · {name}（{r.raw.shape[0]}×{r.raw.shape[1]}）", fontsize=9)
        axes[row, col].axis("off")
fig.colorbar(matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), "jet"), ax=axes,
             fraction=0.02, label="归一化的 Grad-CAM 值")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 怎么读（数字以上面打印的为准）：
#
# - **最深的层**（7×7）：图很粗，但**针对类别**：“猫”的图几乎全在左半边，“杯子”的图在右半边；
# - **越浅的层**：分辨率越高，细节越多，但图越来越像边缘和纹理检测（连图片边框都亮了），两个类别的图越来越像，
#   左右两半的比例都向 0.5 靠拢：浅层特征主要是边缘、颜色、纹理，与类别关系不大，按梯度加权后也分不清猫和杯子。
#
# 所以 Grad-CAM 通常选最后一个卷积层（或送进分类头的那一层）：它在“语义”和“空间分辨率”之间取得平衡。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 动手试一试
#
# 在浏览器里换目标层、换类别（top-5，或输入任意类别名）、调节照片权重 α、换颜色表，也可以上传自己的照片。
# 当前模型没有“全局平均池化 + 一个全连接层”的分类头时（VGG16-bn），“CAM”按钮不可用，并说明原因。

# %% slideshow={"slide_type": "-"}
explorer = widgets.cam_explorer(bundle, "cat_and_cup", shift=SHIFT)  # SHIFT: step 2
explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 练习
#
# ### 练习 1（概念题）：先预测，再运行——导数最大的通道，贡献也最大吗？
#
# 第 3 步得到了猫的照片在目标层上的激活值 `acts` 和梯度 `grads`（形状都是 `(1, C, h, w)`）。通道 $k$ 的权重 $\alpha_k$ 是梯度的平均，
# 它在 Grad-CAM 的图里的“份额”是 $\alpha_k \sum_{i,j} A^k_{ij}$。教材说“导数值越大，说明相应参数对分类的贡献越大”。**不要运行代码**，先回答：
#
# 1. `predict_top_channel()`：$\alpha_k$ 最大的那个通道，是不是 $\alpha_k \sum_{i,j} A^k_{ij}$ 最大的那个通道？返回 `True` 或 `False`；
# 2. `explain_top_channel()`：测量之后，用两三句话说明为什么，引用打印出的数。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_top_channel() -> bool:
    """Is the channel with the largest alpha also the one with the largest alpha * sum(A)?"""
    # Model answer: False. alpha is a sensitivity: on a GAP + linear head it is W[y, k] / (h*w),
    # fixed by the weights whatever the photo. A channel that is all zero on this photo
    # contributes nothing, however large its alpha.
    return False


def explain_top_channel() -> str:
    """Two or three sentences, citing the measured numbers (the notebook's, read when the check calls this)."""
    rank = int((share_k > share_k[top_alpha]).sum()) + 1
    return ("导数是敏感度：这个通道的激活再变大一点，分数会涨多少；贡献还要乘上激活值本身。"
            f"α 最大的通道（{top_alpha} 号）在这张猫的照片上激活之和是 {float(acts[0, top_alpha].sum()):.3f}，"
            f"贡献是 {float(share_k[top_alpha]):.3f}，在 {len(share_k)} 个通道的贡献里排到第 {rank} 名；"
            "在全局平均池化 + 一个全连接层的网络上，α 只由权重决定，与照片无关。")


# %% slideshow={"slide_type": "skip"}
alpha_k = grads[0].mean(dim=(1, 2))  # (C,): the Grad-CAM weights of 第 3 步
share_k = alpha_k * acts[0].sum(dim=(1, 2))  # (C,): each channel's part of sum_ij of the map
top_alpha, top_share = int(alpha_k.argmax()), int(share_k.argmax())
if concepts.check_prediction("alpha 最大的通道就是贡献最大的通道吗", predict_top_channel, top_alpha == top_share,
                             hint="一个在这张照片上激活全为 0 的通道，alpha 可以很大吗？它的贡献是多少？"):
    rank = int((share_k > share_k[top_alpha]).sum()) + 1
    print(f"largest alpha: channel {top_alpha} (alpha {float(alpha_k[top_alpha]):.4f}, sum of its activations "
          f"{float(acts[0, top_alpha].sum()):.3f}), rank {rank} of {len(share_k)} by alpha * sum(A); "
          f"largest alpha * sum(A): channel {top_share} ({float(share_k[top_share]):.3f})")
    concepts.check_explanation("为什么", explain_top_channel)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：“为什么是 a 而不是 b”
#
# 第一名和第二名的热力图可能几乎重合（9.2.1 的练习 1 在猫的照片上测过两张类激活图的相关系数），这时它们回答不了模型为什么选了 a 而不是 b。
# 要解释这个选择，目标就不该是某一个类别的分数，而是两类分数之差 $s_a - s_b$。写出
# `contrast_gradient(model, layer, x, a, b)`：返回 $\partial (s_a - s_b) / \partial A$（`A` 是 `layer` 的输出，形状与它相同）。
# 函数结束时模型上不能留下钩子（检查函数会查）；检查函数在随机的小网络、随机的层和类别对上测试（评分时换新的）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def contrast_gradient(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor,
                      a: int, b: int) -> torch.Tensor:
    """d (logits[0, a] - logits[0, b]) / d (output of layer). Shapes: returns the layer's output shape."""
    stored = []
    handle = layer.register_forward_hook(lambda module, inputs, output: stored.append(output))
    try:
        logits = model(x)  # (1, classes)
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(logits[0, a] - logits[0, b], stored[0])  # one scalar, one backward pass
    return grad


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_contrast_gradient(contrast_gradient):
    with torch.no_grad():
        pair = model(x)[0].topk(2).indices.tolist()  # the top two classes
    per_class = []
    for c in pair:  # the independent computation: each class's gradient on its own
        with hooks.Capture({"A": layer}, leaf=True) as cap:
            score = model(x)[0, c]
        per_class.append(torch.autograd.grad(score, cap.leaves["A"])[0])  # (1, C, h, w)
    mine = contrast_gradient(model, layer, x, *pair)  # (1, C, h, w)
    assert torch.allclose(mine, per_class[0] - per_class[1], rtol=1e-4, atol=1e-7)
    alpha_ab = mine[0].mean(dim=(1, 2))  # (C,): Grad-CAM weights of the contrast
    print(f"{bundle.categories[pair[0]]} vs {bundle.categories[pair[1]]}: your gradient == the difference of "
          f"the two classes' gradients; {int((alpha_ab > 0).sum())} of {len(alpha_ab)} channels get a positive weight")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：找出这段代码的错误——每个位置的贡献
#
# 一位同学想给 vgg_linear（“扁平化→一个线性层”，见“梯度求平均时，正负会相消”一节）画一张**贡献图**：每个位置 $(i, j)$ 对类别分数贡献了多少，
# 要求整张图加起来、再加上偏置，正好等于这个类别的 logit。他这样写（`acts`、`grads` 是目标层的激活值和类别分数对它的梯度，形状都是 `(1, C, h, w)`）：
#
# ```python
# def contribution_map(acts, grads):
#     alpha = grads[0].mean(dim=(1, 2))                      # (C,)
#     return (alpha[:, None, None] * acts[0]).sum(dim=0)     # (h, w)
# ```
#
# 它能运行，形状也对，但加起来不等于 logit 减偏置。找出错误，写出正确的 `contribution_map(acts, grads)`（形状 `(h, w)`，不做 ReLU、不放大、不归一化）。
# 检查函数用随机的激活值和梯度考你；通过后，下一个单元格在 vgg_linear 的 20 张图上核对“图的总和 + 偏置 = logit”，并和这位同学的图比较。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def contribution_map(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Each position's share of the score: sum_k dS/dA^k_ij * A^k_ij. Shapes: (1, C, h, w) x2 -> (h, w)."""
    # The bug: averaging the gradient over positions first. The contribution of A^k_ij is its own
    # derivative times itself (exact for a linear head), summed over the channels only.
    return (grads[0] * acts[0]).sum(dim=0)  # (h, w)


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_contribution_map(contribution_map):
    mine_err, theirs_err = [], []
    for i in range(len(x20)):
        y = int(toy_y[i])
        with torch.no_grad(), hooks.Capture({"A": lin_layer}) as cap:
            logit = float(lin(x20[i:i + 1])[0, y])
        g = torch.as_tensor(cam.hires_cam(lin, lin_layer, x20[i:i + 1], y).weights)[None]  # (1, 32, 8, 8): dS/dA
        m = contribution_map(cap.acts["A"], g)  # (8, 8)
        theirs = (g[0].mean(dim=(1, 2))[:, None, None] * cap.acts["A"][0]).sum(dim=0)  # the classmate's map
        mine_err.append(abs(float(m.sum() + bias[y]) - logit))
        theirs_err.append(abs(float(theirs.sum() + bias[y]) - logit))
    print(f"vgg_linear, {len(x20)} held-out images, true class: |sum of the map + bias - logit| "
          f"largest {agreement(max(mine_err), 1e-4)} for yours; the classmate's map is off by a median "
          f"{float(np.median(theirs_err)):.3f} (largest {max(theirs_err):.3f})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 4（概念题）：先预测，再运行——给一个新网络选目标层
#
# 图 9-8 的小 vgg 网络（扁平化 + 两个全连接层）有 4 个卷积块：`features.0`（32×32）、`features.1`（16×16）、`features.2`（8×8）、`features.3`（8×8，图 9-8 用的那一层）。
# 用哪一层做 Grad-CAM 的目标层，热区落在图形上的比例最大？**不要运行代码**，先回答：
#
# 1. `prediction()`：返回层名，例如 `"features.3"`；
# 2. `explanation()`：测量之后，用两三句话说明：你会选哪一层做这个网络的目标层，用测出的数说明理由；比例最大的那一层是否一定是好的选择
#    （想一想第 5 步：越浅的层，图越不针对类别）。
#
# 下一个单元格在 60 张新的合成图片上，对每一层算 Grad-CAM 落在图形上的比例（每张图解释它真实的类别）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def prediction() -> str:
    """The target layer of the vgg shapes network whose Grad-CAM puts the largest share on the shape."""
    # Model answer: "features.0". The flatten + fully connected head gives every position of the
    # 8x8 layers its own weights, and their signed gradients cancel in the average (see the note on
    # 导数 in 基于梯度的思路); the 32x32 block keeps edges and lands on the shape more often.
    return "features.0"


def explanation() -> str:
    """Two or three sentences: which layer you would choose, with the measured numbers."""
    return ("测量结果是 features.0 的比例最大（约 0.25，而 features.3 只有约 0.06），深层 8×8 的图几乎不落在图形上。"
            "但浅层的图主要是边缘，不一定针对类别：每张图只有一个图形，这个比例测不出类别特异性。"
            "我会先选 features.0，再用两个图形的图片检查它能否分开两个类别，不能只看一个数。")


# %% slideshow={"slide_type": "skip"}
vgg_net = shapes.load_net("vgg")
fresh = shapes.make_batch(60, seed=11)  # images no cell above has used
layer_share = {}
for name, block in vgg_net.features.named_children():
    shares = []
    for i in range(len(fresh)):
        r = cam.grad_cam(vgg_net, block, fresh.images[i:i + 1], class_idx=int(fresh.labels[i, 0]))  # cam: (64, 64)
        mask = fresh.masks[i, 0].numpy()
        shares.append(float(r.cam[mask].sum() / max(r.cam.sum(), 1e-12)))
    layer_share[f"features.{name}"] = float(np.mean(shares))
best_layer = max(layer_share, key=layer_share.get)
if concepts.check_prediction("vgg 小网络：哪一层的 Grad-CAM 最落在图形上", prediction, best_layer,
                             hint="图 9-8 的 features.3 落在图形上的比例是多少？更浅的层分辨率更高，会不会更好？"):
    print("share of the map on the shape per layer:", {k: round(v, 3) for k, v in layer_share.items()},
          f"| the shapes cover {float(fresh.masks.float().mean()):.3f} of the image")
    concepts.check_explanation("你会选哪一层", explanation)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 5（概念题）：先预测，再运行——解释依据表里的一个失败
#
# 对照实验的第一张表（依据）说：vgg 网络（“最大池化→扁平化→FC-ReLU-FC”）去掉图形后准确率掉到接近瞎猜，涂掉同样大的一块背景几乎没有影响：**它用的是图形**。
# 可是它的 Grad-CAM 在指点游戏里常常没有指到图形上（实验 2 打印的数）。那么，在 Grad-CAM 的最大值**没有**落在图形上的那些图片上，
# 图的最大值处会不会有网络真正用到的别的东西？**不要运行代码**，先回答：
#
# 1. `prediction()`：在这些图片上，把 Grad-CAM 最大值周围一块（与图形同样大小，不含图形的像素）涂成背景色，真实类别的 logit 平均下降得比**涂掉图形**还多吗？
#    返回 `True` 或 `False`；
# 2. `explanation()`：测量之后，用两三句话说明：这次失败是网络的问题（它用了图形以外的东西），还是 Grad-CAM 的问题？为什么会这样
#    （回想“梯度求平均时，正负会相消”一节）？引用依据表和下一个单元格打印的数。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def prediction() -> bool:
    """Where vgg's Grad-CAM misses the shape, does painting its peak lower the true logit more than painting the shape?"""
    # Model answer: False. The intervention table shows the net uses the shape; the peak of the
    # map sits on background that the net barely reads, so painting it changes the logit little.
    return False


def explanation() -> str:
    """Two or three sentences: whose failure it is, and why, citing the table and the measurement."""
    return ("这是 Grad-CAM 的失败，不是网络的：依据表里去掉图形后 vgg 的准确率掉到接近瞎猜，涂掉同样大的背景几乎不变；"
            "48 张图里有 42 张 Grad-CAM 的最大值不在图形上；在这些图上，涂掉最大值周围约 258 个像素，真实类别的 logit 平均只降 0.204，"
            "涂掉图形（约 271 个像素）却降 14.228。"
            "原因是扁平化 + 全连接的分类头给每个位置各自的权重，梯度有正有负，在 8×8 个位置上平均时大部分相消，"
            "剩下的通道权重不再反映这张图上哪里贡献了分数。")


# %% slideshow={"slide_type": "skip"}
vgg_toy = nets["vgg"]
peaks = [np.unravel_index(int(m.argmax()), m.shape) for m in toy_maps["vgg", "grad_cam"]]  # (row, col) per map
missed = [i for i, (r, c) in enumerate(peaks) if not bool(m_toy[i, r, c])]
around_peak = torch.zeros_like(m_toy)  # (48, 64, 64)
for i, (r, c) in enumerate(peaks):
    half = max(1, round(float(m_toy[i].sum()) ** 0.5 / 2))  # a square of about the shape's area
    around_peak[i, max(0, r - half):r + half + 1, max(0, c - half):c + half + 1] = True
around_peak &= ~m_toy  # never the shape's own pixels
background = ~(m_toy | around_peak)
labels_toy = torch.tensor(y_toy)[:, None]  # (48, 1)
with torch.no_grad():
    true_logit = {name: vgg_toy(imgs).gather(1, labels_toy)[:, 0] for name, imgs in (
        ("original", x_toy), ("peak painted", reliance.fill_regions(x_toy, around_peak, background)),
        ("shape painted", reliance.fill_regions(x_toy, m_toy, background)))}  # (48,) each
drop = {k: float((true_logit["original"] - v)[missed].mean()) for k, v in true_logit.items() if k != "original"}
if concepts.check_prediction("Grad-CAM 没指到图形时，最大值处比图形更重要吗", prediction,
                             drop["peak painted"] > drop["shape painted"],
                             hint="依据表说 vgg 用的是什么？去掉它时准确率怎样变？"):
    print(f"vgg, Grad-CAM's peak off the shape on {len(missed)} of {len(peaks)} images; there, the true class's "
          f"logit falls by {drop['peak painted']:.3f} on average when the area around the peak is painted "
          f"({float(around_peak[missed].sum(dim=(1, 2)).float().mean()):.3f} pixels), by {drop['shape painted']:.3f} "
          f"when the shape is ({float(m_toy[missed].sum(dim=(1, 2)).float().mean()):.3f} pixels)")
    concepts.check_explanation("这是谁的失败", explanation)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 小结
#
# 教材 9.4 节把本章内容归纳为三点：特征图进行可视化、用类激活图（CAM）、面向 NLP 任务的可视化方法。本笔记本是第二点的后一半：
#
# - **基于梯度的类激活图**：通道权重是类别分数对特征图的梯度在各位置上的平均，$\alpha^y_k = \frac{1}{hw}\sum_{i,j} \partial s_y / \partial A^k_{ij}$；
#   它不需要类别权重，所以能用在 VGG16 这类“扁平化 + 多个全连接层”的网络上，也能用在任何输出空间特征图、可求导的层上；
#   但算得出不等于指得对。教材的图 9-8 是 VGG16-bn 在照片上的结果；课程的对照实验（合成图形上的小网络，先用干预量出网络用的证据）
#   一次只改一处，量出 Grad-CAM 在哪种分类头上指得到网络用的证据、在哪种上指不到（实验 2、3 打印的结论），用之前要拿已知答案的例子检查；
# - 在“全局平均池化 + 一个全连接层”的网络上，它与 9.2.1 节的方法只差常数 $1/(hw)$，图完全相同；
# - 例 9.3 的代码要注意：`out[:, pre_y]` 是 logit 不是概率；钩子要保存句柄并移除；`backward()` 会填满并累加所有参数的 `.grad`，
#   只需要目标层的梯度时用 `torch.autograd.grad`；第 (4) 步沿用了例 9.2 的颜色错位和没有保护的归一化；
# - 教材说这种图“似乎更能聚焦关键部位”，这是直观印象：目标层越浅，图越细但越不针对类别（第 5 步的数字）。
#   两种图哪一个更“可信”、如何定量评价一张类激活图，教材没有展开，是可解释性研究仍在讨论的问题。
