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
# # 9.2.1 基于类权重的类激活图（CAM）
#
# 教材第 9 章第 2 节“基于类激活图的决策解释”的第 1 小节，例 9.2（ResNet18）。
#
# **学习目标**
#
# 1. 说清楚什么是决策解释（decision explanation）：模型把这张图判为某一类，图中**哪些区域**支持了这个决定；
# 2. 理解“卷积部分 + 全局平均池化（Global Average Pooling, GAP）+ 一个全连接层”的结构，以及为什么全连接层权重矩阵 $W$ 的第 $c$ 行
#    可以给通道加权，得到类激活图（Class Activation Map, CAM；Zhou 等，2016，*Learning Deep Features for Discriminative Localization*）；
# 3. 会用 `register_forward_hook` 注册前向钩子（forward hook）取中间层输出，并且一定把它移除：先用普通函数 + `handle.remove()`，再用上下文管理器（context manager）；
# 4. 按例 9.2 的步骤画出 CAM（图 9-7），并用数字看清教材代码的两处问题：钩子挂错了层；热力图与照片错位；
# 5. 为任意类别画 CAM：同一张照片上，“猫”的 CAM 和“杯子”的 CAM 落在不同的物体上。

# %% slideshow={"slide_type": "skip"}
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn

import helpers
from helpers import cam, exercises, hooks, images, load_image, load_model, viz, widgets

helpers.setup()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 决策解释与 CAM 的思路
#
# 9.1 节把各层的输出画了出来，但那只回答了“某个卷积核看到了什么”。决策解释要回答的是：**模型为什么认为这是一只猫？**
# 也就是说，输入图片上哪些位置对“猫”这个类别的得分贡献最大。
#
# 图像分类网络可以分成两部分：
#
# - **卷积部分**：一层层提取特征，最后得到 $n$ 个通道的特征图 $A^1, \dots, A^n$，每张是 $h \times w$（ResNet18 是 512 张 7×7）；
# - **全连接部分**（分类头）：根据特征给出每个类别的分数（logit）。
#
# ResNet18 的分类头很简单：先做**全局平均池化**，把每张特征图平均成一个数 $F_k = \frac{1}{hw}\sum_{i,j} A^k_{ij}$，
# 再接**一个**全连接层，权重矩阵 $W$ 的形状是 $c \times n$（$c$ 个类别，$n$ 个通道），第 $y$ 类的分数是
#
# $$y_c = \sum_{k=1}^{n} W_{c,k}\, F_k + b_c = \frac{1}{hw} \sum_{i,j} \underbrace{\sum_{k=1}^{n} W_{c,k}\, A^k_{ij}}_{M_c(i,j)} + b_c .$$
#
# 求和的次序可以交换，于是类别 $c$ 的分数就是一张图 $M_c$ 的平均值（再加偏置）：$M_c(i,j)$ 是位置 $(i,j)$ 对类别 $c$ 得分的贡献。
# 这张图就是**类激活图**。$W$ 的第 $c$ 行 `W[c, :]` 就是 $n$ 个通道对类别 $c$ 的权重：哪个通道对“猫”重要，它的特征图在加权求和里就占得多。
# CAM 不需要再训练任何东西，只要 (1) 最后一层特征图 $A$ 和 (2) 全连接层的权重 $W$。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 1 步：加载模型
#
# 教材用 torchvision 在 ImageNet 上预训练的 ResNet18。离线时 `load_model` 改用课程自带的 EfficientNet-Lite0，并打印出来。
# 它的分类头也是“全局平均池化 + 一个全连接层”：`conv_head`（1×1 卷积，320 → 1280 通道）→ `bn2`（批归一化 + ReLU6）
# → 全局平均池化 → `classifier`（1280 → 1000），所以 CAM 同样适用。**下面的层名、形状和数字以打印出的模型为准。**

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
# 要拿到最后一层特征图 $A$，不必把模型拆开：在那一层上注册一个前向钩子。钩子是一个函数 `hook(module, inputs, output)`，
# 模型每次前向经过这一层，PyTorch 都会调用它，`output` 就是这一层的输出。`register_forward_hook` 返回一个句柄（handle），
# 用完调用 `handle.remove()` 把钩子摘掉。

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
# 先用数字验证上面的公式：类别分数等于 $M_c$ 的平均值加偏置 $b_c$。

# %% slideshow={"slide_type": "-"}
idx = int(logits.argmax())
M = torch.einsum("k,khw->hw", W[idx], feature[0])  # (h, w): sum_k W[c, k] A^k
print(f"top-1 class: {bundle.categories[idx]}")
print(f"logit from the model: {float(logits[0, idx]):.3f} | mean of M_c + b_c: "
      f"{float(M.mean() + fc.bias[idx].detach()):.3f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 3 步：例 9.2 逐步运行（图 9-7）
#
# 教材的步骤：钩子取特征图 → 前向 → 取概率最大的类别 → 用该类的权重给通道加权求和 → ReLU 并平方 → 归一化到 0～1
# → 双三次插值放大到照片大小 → 上色 → 与照片混合。教材混合时用的是 OpenCV 的 `cv2.addWeighted`；
# 这里不依赖 OpenCV，用 NumPy 直接写 `0.7 * photo + 0.3 * heat`（照片占 0.7，热力图占 0.3）。

# %% slideshow={"slide_type": "subslide"}
probs = logits.softmax(dim=1)[0]  # (1000,)
idx = int(probs.argmax())  # the class to explain: the top-1 prediction
print(f"class {idx}: {bundle.categories[idx]} ({float(probs[idx]):.3f})")

weight = W[idx]  # (C,): row idx of the fc weight, one weight per channel
raw_book = (weight[:, None, None] * feature[0]).sum(dim=0)  # (h, w): weighted sum of channels
cam_book = torch.relu(raw_book) ** 2  # ReLU keeps the evidence for the class; squaring sharpens
cam_book = (cam_book - cam_book.min()) / (cam_book.max() - cam_book.min())  # to [0, 1]
cam_book = cam_book.cpu().numpy()  # (h, w)

heat = Image.fromarray(cam_book).resize(image.size, Image.Resampling.BICUBIC)  # PIL: (w, h)
heat = np.clip(np.asarray(heat), 0, 1)  # (H, W); bicubic overshoots a little
heat_rgb = matplotlib.colormaps["jet"](heat)[..., :3]  # (H, W, 3) RGB
photo = np.asarray(image, dtype=np.float32) / 255  # (H, W, 3)
blend = 0.7 * photo + 0.3 * heat_rgb  # what cv2.addWeighted(photo, 0.7, heat, 0.3, 0) computes
blend_book = Image.fromarray(np.clip(blend * 255 + 0.5, 0, 255).astype(np.uint8))
print("map:", cam_book.shape, "-> upsampled to the photo:", heat.shape)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), dpi=70)
axes[0].imshow(cam_book, cmap="jet")
axes[0].set_title(f"{cam_book.shape[0]}×{cam_book.shape[1]} 的 CAM")
axes[1].imshow(heat_rgb)
axes[1].set_title("双三次放大、上色")
axes[2].imshow(blend_book)
axes[2].set_title(f"图 9-7  CAM：{bundle.categories[idx]}")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# `cam.class_weight_cam` 把“钩子 + 前向 + 加权求和”包在一个函数里（钩子用完即移除）；`viz.overlay` 负责放大、上色和混合。
# 两者与上面逐步写出的结果一致：

# %% slideshow={"slide_type": "-"}
res = cam.class_weight_cam(model, bundle.cam_layer, W, x)  # class_idx=None: the top-1 class
assert res.class_idx == idx and torch.allclose(res.raw, raw_book, atol=1e-5)
assert np.allclose(viz.normalize(res.raw.clamp(min=0) ** 2), cam_book, atol=1e-5)
picture = viz.overlay(image, cam_book, alpha=0.7)  # alpha: the photo's weight
assert np.abs(np.asarray(picture, dtype=int) - np.asarray(blend_book, dtype=int)).max() <= 1
print("raw map:", tuple(res.raw.shape), "| cam:", res.cam.shape, res.cam.dtype,
      f"in [{res.cam.min():.3f}, {res.cam.max():.3f}]")
print("step by step == cam.class_weight_cam + viz.overlay; hooks left:", hooks.count_hooks(model))

# %% [markdown] slideshow={"slide_type": "-"}
# `res.cam` 是放大到输入大小（224×224，双线性插值）并归一化的图，**没有平方**；教材的平方只是让强响应更突出，
# 画图时可以自己加上（`res.cam ** 2`）。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误 1：钩子挂错了层
#
# > **勘误**：教材把钩子挂在 `model.layer4[1].bn2` 上。但 ResNet18 最后一个残差块（`layer4[1]`，一个 `BasicBlock`）的前向是
# >
# > ```python
# > out = self.bn2(self.conv2(out))   # 教材取的是这里
# > out += identity                   # 残差相加
# > out = self.relu(out)              # ReLU
# > return out                        # 全局平均池化读的是这里：layer4 的输出
# > ```
# >
# > `bn2` 的输出还没有加上残差、也没有经过 ReLU，**不是**全局平均池化看到的特征图，上面公式里的 $A$ 应该是 `layer4` 的输出。
# > 在自带的 EfficientNet-Lite0 上，同样的错误是把钩子挂在 `conv_head`（最后一个 1×1 卷积）上：它的输出还要经过 `bn2` 的批归一化和 ReLU6 才进入池化。
#
# 哪一层才是池化看到的？用数字判断：把某层的输出做全局平均池化再送进全连接层，看能不能**一模一样**地算回模型的 logits。

# %% slideshow={"slide_type": "subslide"}
BOOK_LAYER = {"resnet18": "layer4.1.bn2", "efficientnet_lite0": "conv_head"}  # the book's mistake
book_name = BOOK_LAYER[bundle.name]
candidates = {book_name: model.get_submodule(book_name), bundle.cam_layer_name: bundle.cam_layer}
with torch.no_grad(), hooks.Capture(candidates) as cap:
    logits = model(x)  # (1, 1000)
    for name, acts in cap.acts.items():  # acts: (1, C, h, w)
        gap_fc = fc(acts.mean(dim=(2, 3)))  # global average pooling, then the fc layer
        print(f"{name:<14s} max |fc(GAP(A)) - logits| = {float((gap_fc - logits).abs().max()):.3f}"
              f" | smallest value in A: {float(acts.min()):.3f}")

right = cam.class_weight_cam(model, bundle.cam_layer, W, x, idx)
wrong = cam.class_weight_cam(model, book_name, W, x, idx)
corr = np.corrcoef(wrong.cam.ravel(), right.cam.ravel())[0, 1]
print(f"class {bundle.categories[idx]}: correlation of the two maps = {corr:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), dpi=70)
for ax, r, name in ((axes[0], wrong, f"教材的层 {book_name}"),
                    (axes[1], right, f"池化看到的层 {bundle.cam_layer_name}")):
    ax.imshow(viz.overlay(image.crop(images.crop_box(image.size)), r.cam, alpha=0.5))
    ax.set_title(name)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 只有池化真正读到的那一层能算回 logits（差为 0），CAM 的公式 $y_c = \mathrm{mean}(M_c) + b_c$ 也只对这一层成立；
# 教材的那一层还没有经过最后的激活函数，含有负值（上面打印的最小值）。两张图的相关系数见上面的打印（越接近 1 越相似），
# 热区明显不同。`cam.class_weight_cam` 的说明里写明了 `layer`
# 必须是“输出送进全局平均池化的那一层”，`bundle.cam_layer` 就是它。
#
# 还有一个容易踩的坑：如果钩子只保存 `output` 本身而**不复制**（或在 CPU 上保存 `output.data.cpu().numpy()`，它与张量共用内存），
# 那么之后的原地（in-place）运算 `out += identity` 和 `ReLU(inplace=True)` 会把刚保存的值改掉。下面在 ResNet18 的结构上演示
# （随机权重，不需要下载）：没复制的“bn2 输出”最后变成了 `layer4` 的输出。这样得到的结果碰巧对了，但只是巧合：
# 在 GPU 上 `.cpu()` 会复制一份，结果就又变回相加前的值。所以钩子里要 `clone()`，并且挂在正确的层上。

# %% slideshow={"slide_type": "subslide"}
demo = torchvision.models.resnet18(weights=None).eval()  # the architecture only
kept = {}


def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
    kept["alias"] = output  # no copy: shares memory with the block's tensor
    kept["copy"] = output.detach().clone()


handle = demo.layer4[1].bn2.register_forward_hook(keep)
try:
    with torch.no_grad(), hooks.Capture({"layer4": demo.layer4}) as cap:
        demo(torch.randn(1, 3, 224, 224))
finally:
    handle.remove()
print("uncopied bn2 output == layer4 output:", torch.equal(kept["alias"], cap.acts["layer4"]))
print("copied bn2 output == layer4 output:  ", torch.equal(kept["copy"], cap.acts["layer4"]))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 勘误 2：热力图与照片错位
#
# > **勘误**：模型看到的是预处理后的图：短边缩放到 256、再**中心裁剪** 224×224（`Resize(256)` + `CenterCrop(224)`）。
# > CAM 是在这块 224×224 上算出来的，教材却把它拉伸到**整张**照片上。照片不是正方形时，裁掉的两边也被铺上了热力图，
# > 热区被横向（或纵向）拉宽、挪位，落到物体旁边。
#
# 用一张宽照片（火箭，640×427）看得最清楚。`images.crop_box` 给出中心裁剪在原图上的位置，
# `viz.overlay_box` 只在这块区域上叠加热力图（白框），这才是模型实际看的地方。

# %% slideshow={"slide_type": "subslide"}
wide = load_image("rocket")
res_wide = cam.class_weight_cam(model, bundle.cam_layer, W, bundle.to_input(wide))
box = images.crop_box(wide.size)  # (left, top, right, bottom) in the photo's pixels
print(f"photo {wide.size}, class {bundle.categories[res_wide.class_idx]}, centre crop {box}")

i, j = np.unravel_index(res_wide.cam.argmax(), res_wide.cam.shape)  # the peak in the 224x224 map
book_xy = (j / 224 * wide.width, i / 224 * wide.height)  # stretched over the whole photo
true_xy = (box[0] + j / 224 * (box[2] - box[0]), box[1] + i / 224 * (box[3] - box[1]))
print(f"peak of the map in the photo: book ({book_xy[0]:.0f}, {book_xy[1]:.0f}), "
      f"correct ({true_xy[0]:.0f}, {true_xy[1]:.0f}), "
      f"{abs(book_xy[0] - true_xy[0]):.0f} pixels apart horizontally")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=60)
axes[0].imshow(viz.overlay(wide, res_wide.cam, alpha=0.6))
axes[0].set_title("教材：拉伸到整张照片（错位）")
axes[1].imshow(viz.overlay_box(wide, res_wide.cam, box, alpha=0.6))
axes[1].set_title("修正：只叠在模型看到的中心区域")
for ax, (px, py) in zip(axes, (book_xy, true_xy)):
    ax.plot(px, py, "w+", markersize=14, mew=2)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 左图的热区被横向拉宽，伸到了两侧的发射塔上；右图的热区紧贴火箭。方形照片（如后面的 `cat_and_cup`）两种做法一样，
# 所以这个错误在方形示例图上看不出来。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 第 4 步：为任意类别画 CAM
#
# CAM 可以解释**任何**一个类别，不只是概率最大的那个：把 `W[idx]` 换成别的类别的那一行即可。
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


crop = both.crop(images.crop_box(both.size)).resize((224, 224), Image.Resampling.BICUBIC)
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
assert cat_col < 112 <= cup_col  # the cat is on the left, the cup on the right

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), dpi=70)
axes[0].imshow(crop)
axes[0].set_title("模型看到的 224×224")
for ax, label in zip(axes[1:], maps):
    r = maps[label]
    ax.imshow(viz.overlay(crop, r.cam, alpha=0.5))
    ax.set_title(f"{label}：{bundle.categories[r.class_idx]}")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 同一张图、同一次前向得到的特征图 $A$，只因为换了一行权重 `W[c, :]`，热区就从猫移到了杯子上：
# CAM 是**针对类别**的解释（class-discriminative）。这也说明模型确实“知道”猫和杯子分别在哪里，尽管它只学过给整张图分类。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 动手试一试
#
# 下面的浏览器里可以选择类别（top-5，或在“其他类别”里输入任意类别的英文名再回车）、调节照片权重 α、换颜色表，
# 也可以换示例图片或上传自己的照片。“方法”选 CAM 就是本节的方法；Grad-CAM 是下一节的内容。
# 每张图只算一次，之后拖动 α 只是重画。

# %% slideshow={"slide_type": "-"}
explorer = widgets.cam_explorer(bundle, "cat_and_cup", method="cam")
explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 练习
#
# ### 练习 1：CAM 的加权求和
#
# 写出函数 `cam_from_weights(acts, fc_weight, class_idx)`：用全连接层权重的第 `class_idx` 行给 `acts` 的各个通道加权，再按通道求和
# （即 $M_c = \sum_k W_{c,k} A^k$，不做 ReLU）。检查函数会用随机生成的 `acts` 和权重测试它。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def cam_from_weights(acts: torch.Tensor, fc_weight: torch.Tensor, class_idx: int) -> torch.Tensor:
    """CAM before ReLU. Shapes: acts (1, C, h, w), fc_weight (classes, C) -> (h, w)."""
    weight = fc_weight[class_idx]  # (C,)
    return (weight[:, None, None] * acts[0]).sum(dim=0)  # (h, w)


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_cam_from_weights(cam_from_weights):
    assert torch.allclose(cam_from_weights(feature, W, idx), raw_book, atol=1e-5)  # the book's map
    print("your function reproduces the map of 图 9-7")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：解释另一个类别
#
# 模型最有把握的类别不一定是我们想解释的。写出 `second_class_cam(acts, fc_weight, logits)`：返回**得分第二高**的类别的 CAM
# （不做 ReLU）。提示：`logits[0].topk(2)`。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def second_class_cam(acts: torch.Tensor, fc_weight: torch.Tensor,
                     logits: torch.Tensor) -> torch.Tensor:
    """CAM (before ReLU) of the runner-up class. Shapes: logits (1, classes) -> (h, w)."""
    second = int(logits[0].topk(2).indices[1])
    return (fc_weight[second][:, None, None] * acts[0]).sum(dim=0)  # (h, w)


# %% slideshow={"slide_type": "skip"}
if exercises.cam.check_second_class_cam(second_class_cam):
    with torch.no_grad(), hooks.Capture({"A": bundle.cam_layer}) as cap:
        logits = model(x)  # (1, 1000), the cat photo
    second = int(logits[0].topk(2).indices[1])
    runner_up = cam.class_weight_cam(model, bundle.cam_layer, W, x, second)
    assert torch.allclose(second_class_cam(cap.acts["A"], W, logits), runner_up.raw, atol=1e-5)
    print("runner-up class on the cat photo:", bundle.categories[runner_up.class_idx])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：教材本该挂钩子的层
#
# 写出 `find_cam_layer(model, x, candidates)`：`candidates` 是若干 `(名字, 模块)`，返回其中**输出被全局平均池化后正好送进全连接层**的那一层的名字
# （就像勘误 1 里那样用数字判断，不要凭层名猜）。检查函数先在随机生成的小残差网络上测试（每次结构不同、答案由模型算出），
# 再在当前模型的最后 4 层上测试。

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
    layers[book_name] = model.get_submodule(book_name)  # for ResNet18: layer4.1.bn2 as well
    layers = list(layers.items())
    found = find_cam_layer(model, x, layers)
    assert found == bundle.cam_layer_name
    print(f"the layer to hook in {bundle.name}: {found} (not {book_name})")
