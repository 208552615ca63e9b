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
# # 9.2.2 基于梯度的类激活图（Grad-CAM）
#
# 教材第 9 章第 2 节“基于类激活图的决策解释”的第 2 小节，例 9.3（VGG16-bn）。
#
# **学习目标**
#
# 1. 知道 CAM 的限制：它要求分类头是“全局平均池化 + 一个全连接层”；VGG16-bn 的分类头有三个全连接层，不能直接用 CAM；
# 2. 会用 `Tensor.register_hook` 取中间变量的梯度，知道 PyTorch 为什么默认不保存中间变量的梯度（以及 `retain_grad`）；
# 3. 按例 9.3 的步骤画出基于梯度的类激活图（Gradient-weighted Class Activation Mapping, Grad-CAM；Selvaraju 等，2017）（图 9-8）；
# 4. 推导并用数字验证：在“全局平均池化 + 一个全连接层”的网络上，Grad-CAM 与 CAM 只差一个正的常数 $1/(hw)$；
# 5. 看目标层（target layer）由浅到深时热力图怎样变化。

# %% slideshow={"slide_type": "skip"}
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

import helpers
from helpers import cam, exercises, hooks, images, load_image, load_model, viz, widgets

helpers.setup()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Grad-CAM 的思路
#
# CAM 用全连接层的权重 $W_{c,k}$ 衡量第 $k$ 个通道对类别 $c$ 的重要性。没有“全局平均池化 + 一个全连接层”时，就没有这样现成的权重。
# Grad-CAM 换了一个问法：**如果特征图 $A^k$ 的某个位置变大一点，类别分数 $y^c$（softmax 之前的 logit）会变化多少？** 这正是梯度
# $\partial y^c / \partial A^k_{ij}$。把它在所有位置上平均（对梯度做全局平均池化），就得到通道 $k$ 的权重
#
# $$\alpha^c_k = \frac{1}{hw} \sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}}, \qquad
# L^c_{\text{Grad-CAM}} = \mathrm{ReLU}\Big(\sum_k \alpha^c_k A^k\Big).$$
#
# ReLU 只留下对类别 $c$ 起正面作用的区域。梯度对任何可求导的网络都能算，所以 Grad-CAM 可以用在任意一层、任意结构上。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 1 步：张量的梯度钩子 `Tensor.register_hook`
#
# 教材的例子：$y = x^2$，$z = 4y$。在 $x = 3$ 处，$\frac{dz}{dy} = 4$，$\frac{dz}{dx} = \frac{dz}{dy}\cdot\frac{dy}{dx} = 4 \cdot 2x = 24$。

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
# 教材用 torchvision 的 VGG16-bn，目标层是 `avgpool`。VGG16-bn 的 `avgpool` 是 `AdaptiveAvgPool2d((7, 7))`：
# 输入本来就是 7×7，它什么也不改变，输出就是卷积部分最后一个最大池化层的输出（512 个 7×7 的通道）。
# 离线时 `load_model` 改用课程自带的 EfficientNet-Lite0，目标层是送进全局平均池化的 `bn2`（1280 个 7×7 的通道）。
# **下面的层名、形状和数字以打印出的模型为准。**

# %% slideshow={"slide_type": "-"}
bundle = load_model("vgg16_bn")  # the book's model; offline: the bundled EfficientNet-Lite0
model = bundle.model
layer = bundle.gradcam_layer  # the book's target layer: avgpool for VGG16-bn
print("model in use:", bundle.name, "| source:", bundle.source)
print("target layer:", bundle.gradcam_layer_name, "|", type(layer).__name__)
print("CAM from class weights possible:", bundle.classifier_weight is not None)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 3 步：例 9.3 逐步运行（图 9-8）
#
# 教材的步骤：在目标层上注册前向钩子，钩子里保存输出（激活 `acts`），并对输出张量调用 `register_hook` 保存它的梯度（`grads`）
# → 前向 → 取概率最大的类别 → 从这个类别的分数反向传播 → 对梯度做全局平均得到通道权重 → 加权求和
# → 与 9.2.1 相同的画图流程（ReLU 并平方、归一化、双三次放大、上色、按 0.7 : 0.3 与照片混合）。

# %% slideshow={"slide_type": "subslide"}
acts_list, grads_list = [], []


def forward_hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
    acts_list.append(output.detach().clone())  # the activations A
    output.register_hook(lambda grad: grads_list.append(grad.detach()))  # dy/dA, during backward


image = load_image("cat")
x = bundle.to_input(image)  # (1, 3, 224, 224)
handle = layer.register_forward_hook(forward_hook)
try:
    logits = model(x)  # (1, 1000); the graph is kept for backward
    idx = int(logits.argmax())  # the class to explain: the top-1 prediction
    model.zero_grad()
    logits[0, idx].backward()  # backward from the class score y^c
finally:
    handle.remove()  # also when something above fails
model.zero_grad(set_to_none=True)  # backward() also filled every parameter's .grad: free them
acts, grads = acts_list[0], grads_list[0]  # (1, C, h, w) each
p = float(logits.detach().softmax(dim=1)[0, idx])
print(f"class {idx}: {bundle.categories[idx]} ({p:.3f})")
print("acts:", tuple(acts.shape), "| grads:", tuple(grads.shape),
      "| hooks left:", hooks.count_hooks(model))

weights = grads.mean(dim=(2, 3))[0]  # (C,): alpha_k, global average pooling of the gradients
raw_book = (weights[:, None, None] * acts[0]).sum(dim=0)  # (h, w): weighted sum of the channels
cam_book = torch.relu(raw_book) ** 2  # ReLU, then square as in 9.2.1
cam_book = ((cam_book - cam_book.min()) / (cam_book.max() - cam_book.min())).cpu().numpy()  # [0, 1]

heat = Image.fromarray(cam_book).resize(image.size, Image.Resampling.BICUBIC)  # PIL: (w, h)
heat_rgb = matplotlib.colormaps["jet"](np.clip(np.asarray(heat), 0, 1))[..., :3]  # (H, W, 3)
blend = 0.7 * np.asarray(image, dtype=np.float32) / 255 + 0.3 * heat_rgb  # (H, W, 3)
blend_book = Image.fromarray(np.clip(blend * 255 + 0.5, 0, 255).astype(np.uint8))

fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), dpi=70)
axes[0].imshow(cam_book, cmap="jet")
axes[0].set_title(f"{cam_book.shape[0]}×{cam_book.shape[1]} 的 Grad-CAM")
axes[1].imshow(heat_rgb)
axes[1].set_title("双三次放大、上色")
axes[2].imshow(blend_book)
axes[2].set_title(f"图 9-8  Grad-CAM：{bundle.categories[idx]}")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 离线使用自带模型时，图 9-8 与 9.2.1 的图 9-7 一模一样：这不是巧合，第 4 步会说明原因。
#
# `cam.grad_cam` 做的是同一件事，结果相同；`viz.overlay` 负责放大、上色和混合：

# %% slideshow={"slide_type": "-"}
res = cam.grad_cam(model, layer, x)  # class_idx=None: the top-1 class
assert res.class_idx == idx
assert torch.allclose(res.weights, weights, rtol=1e-4, atol=1e-7)
assert torch.allclose(res.raw, raw_book, rtol=1e-4, atol=1e-5)
assert np.allclose(viz.normalize(res.raw.clamp(min=0) ** 2), cam_book, atol=1e-4)
picture = viz.overlay(image, cam_book, alpha=0.7)
assert np.abs(np.asarray(picture, dtype=int) - np.asarray(blend_book, dtype=int)).max() <= 1
print("step by step == cam.grad_cam; hooks left:", hooks.count_hooks(model),
      "| parameters with a .grad:", sum(p.grad is not None for p in model.parameters()))

# %% [markdown] slideshow={"slide_type": "subslide"}
# 教材的写法对整个网络调用 `backward()`：除了目标层的梯度，还顺带算出了全部参数的梯度（VGG16-bn 有 1.38 亿个参数），
# 最后还要 `zero_grad` 清掉。`cam.grad_cam` 只需要 $\partial y^c / \partial A$：它在这一次调用期间把参数的 `requires_grad` 暂时关掉（结束后恢复），
# 用 `torch.autograd.grad` 只从类别分数反向传到目标层为止，所以比教材的写法快，也不会在参数上留下 `.grad`。
#
# 另外，前向钩子里的 `clone()` 不能省：如果目标层后面紧跟一个原地（in-place）ReLU（VGG 里每个批归一化层后面都是），
# 不复制的话存下的激活会被改写。`avgpool` 和 `bn2` 后面没有原地运算，`cam.grad_cam` 对任何层都做了这种保护。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 4 步：Grad-CAM 是 CAM 的推广
#
# 对“全局平均池化 + 一个全连接层”的网络，$y^c = \sum_k W_{c,k} \frac{1}{hw}\sum_{i,j} A^k_{ij} + b_c$，所以
# $\frac{\partial y^c}{\partial A^k_{ij}} = \frac{W_{c,k}}{hw}$ 在每个位置都一样，平均后 $\alpha^c_k = \frac{W_{c,k}}{hw}$，于是
#
# $$\sum_k \alpha^c_k A^k = \frac{1}{hw} \sum_k W_{c,k} A^k = \frac{1}{hw} M_c .$$
#
# Grad-CAM 与 CAM 只差一个正的常数 $1/(hw)$；ReLU 和归一化之后，两张图完全相同。
# VGG16-bn 不是这种结构，所以这里用 ResNet18（离线时是自带的 EfficientNet-Lite0）来验证，目标层是送进全局平均池化的那一层。

# %% slideshow={"slide_type": "subslide"}
gap = bundle if bundle.classifier_weight is not None else load_model("resnet18")
x_gap = gap.to_input(image)  # (1, 3, 224, 224)
g = cam.grad_cam(gap.model, gap.cam_layer, x_gap)
c = cam.class_weight_cam(gap.model, gap.cam_layer, gap.classifier_weight, x_gap, g.class_idx)
h, w = g.raw.shape
print(f"{gap.name}, layer {gap.cam_layer_name}, class {gap.categories[g.class_idx]}, map {h}×{w}")
print(f"W[c, k] / alpha_k: min {float((c.weights / g.weights).min()):.3f}, "
      f"max {float((c.weights / g.weights).max()):.3f} (h*w = {h * w})")
assert torch.allclose(g.weights * (h * w), c.weights, rtol=1e-3, atol=1e-6)
assert torch.allclose(c.raw, g.raw * (h * w), rtol=1e-4, atol=1e-4)
assert np.allclose(c.cam, g.cam, atol=1e-4)
print("CAM == (h*w) * Grad-CAM before ReLU; after ReLU and min-max the maps are identical:",
      f"max difference {np.abs(c.cam - g.cam).max():.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 5 步：目标层的选择
#
# Grad-CAM 可以挂在任何一层上。下面在每种特征图尺寸（56、28、14、7）各取**最后**一层作为目标层，
# 对同一张“猫 + 咖啡”的照片分别解释“猫”和“杯子”两个类别。层的列表由模型算出，所以对 VGG16-bn 和 EfficientNet-Lite0 都适用。

# %% slideshow={"slide_type": "subslide"}
both = load_image("cat_and_cup")
x_both = bundle.to_input(both)  # (1, 3, 224, 224)
crop = both.crop(images.crop_box(both.size)).resize((224, 224), Image.Resampling.BICUBIC)
sizes = hooks.capture_activations(model, x_both, bundle.feature_layers)
last_at = {}
for name, a in sizes.items():  # in forward order: a later layer of the same size wins
    last_at[a.shape[-1]] = name
targets = [last_at[s] for s in sorted(last_at, reverse=True) if s <= 56]
probs = cam.grad_cam(model, layer, x_both).probs
classes = {label: max((bundle.categories.index(n) for n in names), key=lambda k: float(probs[k]))
           for label, names in (("猫", ("tabby", "tiger cat", "Egyptian cat")),
                                ("杯子", ("cup", "espresso", "coffee mug")))}

fig, axes = plt.subplots(2, len(targets), figsize=(2.6 * len(targets), 5.6), dpi=60)
for row, (label, k) in enumerate(classes.items()):
    for col, name in enumerate(targets):
        r = cam.grad_cam(model, name, x_both, class_idx=k)
        left = float(r.cam[:, :112].sum() / max(r.cam.sum(), 1e-12))  # share of the map on the cat
        print(f"{bundle.categories[k]:<12s} {name:<12s} {r.raw.shape[0]:>2d}×{r.raw.shape[1]:<2d}"
              f" share on the left (cat) half: {left:.3f}")
        axes[row, col].imshow(viz.overlay(crop, r.cam, alpha=0.5))
        axes[row, col].set_title(f"{label} · {name}（{r.raw.shape[0]}×{r.raw.shape[1]}）", fontsize=9)
        axes[row, col].axis("off")
plt.tight_layout()
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
explorer = widgets.cam_explorer(bundle, "cat_and_cup")
explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 练习
#
# ### 练习 1：Grad-CAM 的通道权重
#
# 写出 `gradcam_weights(grads)`：输入梯度 `grads`（形状 `(1, C, h, w)`），返回每个通道的权重 $\alpha_k$（形状 `(C,)`）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def gradcam_weights(grads: torch.Tensor) -> torch.Tensor:
    """alpha_k = mean over (i, j) of the gradients. Shapes: grads (1, C, h, w) -> (C,)."""
    return grads[0].mean(dim=(1, 2))


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_gradcam_weights(gradcam_weights):
    assert torch.allclose(gradcam_weights(grads), res.weights, rtol=1e-4, atol=1e-7)
    print("your weights == cam.grad_cam's weights on the cat photo")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：取得某层输出的梯度
#
# 写出 `layer_gradient(model, layer, x, class_idx)`：用前向钩子 + `Tensor.register_hook`，返回类别 `class_idx` 的分数对 `layer`
# 输出的梯度（形状与该层输出相同）。函数结束时模型上不能留下钩子（检查函数会查）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def layer_gradient(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor,
                   class_idx: int) -> torch.Tensor:
    """d logits[0, class_idx] / d (output of layer). Shapes: returns the layer's output shape."""
    store = {}

    def hook(module, inputs, output):
        output.register_hook(lambda grad: store.update(grad=grad.detach()))

    handle = layer.register_forward_hook(hook)
    try:
        model(x)[0, class_idx].backward()
    finally:
        handle.remove()
    return store["grad"]


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_layer_gradient(layer_gradient):
    assert torch.allclose(layer_gradient(model, layer, x, idx), grads, rtol=1e-4, atol=1e-7)
    model.zero_grad(set_to_none=True)
    print("your gradient == the one caught in 第 3 步")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：Grad-CAM 图
#
# 写出 `gradcam_map(acts, grads)`：返回 $\mathrm{ReLU}\big(\sum_k \alpha_k A^k\big)$（形状 `(h, w)`，不放大、不归一化）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def gradcam_map(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """ReLU(sum_k alpha_k A^k). Shapes: acts, grads (1, C, h, w) -> (h, w)."""
    alpha = grads[0].mean(dim=(1, 2))  # (C,)
    return torch.relu((alpha[:, None, None] * acts[0]).sum(dim=0))


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_gradcam_map(gradcam_map):
    assert torch.allclose(gradcam_map(acts, grads), res.raw.clamp(min=0), rtol=1e-4, atol=1e-5)
    print("your map == cam.grad_cam's map (before upsampling) on the cat photo")
