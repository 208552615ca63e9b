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
# # 9.4（拓展）热力图可信吗？——忠实度、健全性检查与真值
#
# 教材第 9 章的拓展节：9.2 节画出了类激活图（图 9-7、图 9-8），9.3 节画出了注意力（图 9-9、图 9-10）。
# 这一节不再画新的图，而是**量**：这些图在多大程度上说出了模型真正的决策依据？所有数字都在本 notebook 里现算。
#
# **学习目标**
#
# 1. 知道“看起来合理”不是检验，说出三类检验：忠实度（faithfulness）、健全性检查（sanity check）、与真值（ground truth）对照；
# 2. 会算删除曲线和插入曲线（deletion / insertion，Petsiuk 等 2018）及其曲线下面积（AUC），并拿随机图和 Sobel 边缘图作对照（baseline）；
# 3. 会做级联模型随机化（cascading model randomization，Adebayo 等 2018），用 Spearman 秩相关和结构相似度（SSIM）比较热力图；
# 4. 在答案已知的玩具世界（toy world）里，用指向游戏（pointing game）、掩码内能量（energy inside the mask）和类别区分度检验各方法；
# 5. 用 Kendall τ 检验“注意力是不是解释”，并知道发表的数字为什么不能直接与我们的比较；
# 6. 带着这些结果重新读图 9-7 和图 9-8。

# %% slideshow={"slide_type": "skip"}
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import transformers
from PIL import Image

import helpers
from helpers import attribution, cam, exercises, load_image, load_model, widgets
from helpers.draw import viz
from helpers.text import models as textmodels
from helpers.toy import world as shapes
from helpers.trust import attention as attn_trust
from helpers.trust import faithfulness, localization, rankcorr, sanity

helpers.setup()
transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in the outputs
T0 = time.perf_counter()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 直觉不是检验
#
# 教材在图 9-7 之后写道：
#
# > 直觉告诉我们，这种决策依据似乎是可信的，因而这种类激活图为我们提供了一种直观的解释，即提供了决策原因的可视化解释。
#
# 在图 9-8 之后又写道：
#
# > 直觉告诉我们，利用梯度构建的类激活图的效果也很好，似乎更能聚焦关键部位，而且这种方法可以适用于更多类型的网络结构。
#
# “似乎可信”是对**图**的评价，不是对**模型**的检验：一张落在狗嘴上的热力图，也可能只是图里最显眼的边缘，与模型怎么判断无关。
# 下面用三类检验代替直觉：
#
# | 检验 | 问的问题 | 本节的做法 |
# | --- | --- | --- |
# | 忠实度（faithfulness） | 图上排在前面的像素，是不是模型真正需要的？ | 删除 / 插入曲线，平均置信度下降 |
# | 健全性检查（sanity check） | 把模型的权重换成随机数，图会不会跟着变？ | 级联模型随机化；打乱标签训练的网络 |
# | 真值（ground truth） | 答案已知时，图指得对不对？ | 玩具世界里的指向游戏、掩码内能量、类别区分度 |
#
# **规模**（为了在 CPU 上约 90 秒跑完）：真实模型用课程自带的 EfficientNet-Lite0 和 2 张照片，删除 / 插入各 10 步；
# Score-CAM 只用方差最大的 32 个通道；SmoothGrad 8 个样本，积分梯度（Integrated Gradients）16 步，遮挡（occlusion）用 32×32 的块、步长 32；
# 玩具世界每个网络 48 张单物体图和 24 张双物体图（64×64）。这些数字都在下一个单元格里，可以改大。

# %% slideshow={"slide_type": "-"}
PHOTOS = ("cat", "coffee")  # photos for deletion / insertion
STEPS = 10  # deletion / insertion: 10 steps of 10 % of the pixels each
SCORE_CAM_CHANNELS = 32  # Score-CAM: the 32 channels with the largest spatial variance
N_SINGLE, N_PAIR = 48, 24  # toy world: images with one object, with two objects
OPTIONS = {  # per-method settings (the rest use their defaults)
    "score_cam": {"max_channels": SCORE_CAM_CHANNELS},
    "smoothgrad": {"samples": 8},
    "integrated_gradients": {"steps": 16},
    "occlusion": {"window": 32, "stride": 32},
}
BASELINES = ("random", "sobel")


def all_maps(model, layer, x, class_idx, occlusion_window=32):
    """Every method's map, plus the two baselines. Shapes: x (N, 3, H, W) -> {name: (N, H, W)}."""
    n = x.shape[0]
    opts = dict(OPTIONS, guided_grad_cam={"layer": layer},
                occlusion={"window": occlusion_window, "stride": occlusion_window})
    maps = {name: f(model, layer, x, class_idx, **opts.get(name, {})).cam
            for name, f in cam.METHODS.items()}
    maps |= {name: f(model, x, class_idx, **opts.get(name, {})).map
             for name, f in attribution.ATTRIBUTIONS.items()}
    maps["random"] = faithfulness.random_map((n, *x.shape[-2:]), seed=0)
    maps["sobel"] = np.stack([faithfulness.sobel_map(x[i:i + 1]) for i in range(n)])
    return {k: np.asarray(v).reshape(n, *x.shape[-2:]) for k, v in maps.items()}


print("CAM methods:", ", ".join(cam.METHODS))
print("pixel attributions:", ", ".join(attribution.ATTRIBUTIONS))
print("baselines:", ", ".join(BASELINES))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. 同一张照片，十二种热力图
#
# 先把所有方法并排画出来。CAM 家族（Grad-CAM、Grad-CAM++、XGrad-CAM、HiRes-CAM、Layer-CAM、Score-CAM）都在最后一个卷积层
# （EfficientNet-Lite0 的 `bn2`，7×7）上算，再放大到 224×224；像素归因（pixel attribution：梯度 saliency、SmoothGrad、
# 导向反向传播 Guided Backprop、Guided Grad-CAM、积分梯度、遮挡）直接在输入像素上算。最后两张是**不看模型**的对照：
# 一张均匀随机数图（random），一张图像本身的 Sobel 边缘强度图（sobel）。

# %% slideshow={"slide_type": "subslide"}
bundle = load_model("efficientnet_lite0", source="bundled")
model, layer = bundle.model, bundle.gradcam_layer
mean, std = torch.tensor(bundle.mean).view(3, 1, 1), torch.tensor(bundle.std).view(3, 1, 1)


def crop_image(x: torch.Tensor) -> Image.Image:
    """The 224 x 224 crop the model saw, back in RGB. Shapes: x (1, 3, H, W)."""
    rgb = (x[0].cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()  # (H, W, 3)
    return Image.fromarray((rgb * 255 + 0.5).astype(np.uint8))


photo_x = {name: bundle.to_input(load_image(name)) for name in PHOTOS}  # (1, 3, 224, 224) each
photo_cls = {}
with torch.no_grad():
    for name, x in photo_x.items():
        p = model(x).softmax(dim=1)[0]
        photo_cls[name] = int(p.argmax())
        print(f"{name}: top-1 = {bundle.categories[photo_cls[name]]} ({float(p.max()):.3f})")
photo_maps = {name: {k: v[0] for k, v in all_maps(model, layer, x, photo_cls[name]).items()}
              for name, x in photo_x.items()}
print("maps per photo:", len(photo_maps[PHOTOS[0]]), "| shape:", photo_maps[PHOTOS[0]]["grad_cam"].shape)


# %% slideshow={"slide_type": "subslide"}
def show_maps(img: Image.Image, maps: dict, title: str, cols: int = 7, alpha: float = 0.45):
    rows = -(-len(maps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 1.9 * rows), dpi=80)
    for ax, (name, m) in zip(axes.flat, maps.items(), strict=False):
        ax.imshow(viz.overlay(img, m, alpha=alpha))
        ax.set_title(name, fontsize=8, color="gray" if name in BASELINES else "black")
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()


show_maps(crop_image(photo_x["cat"]), photo_maps["cat"],
          f"EfficientNet-Lite0，类别 {bundle.categories[photo_cls['cat']]}（灰色标题：不看模型的对照）")

# %% [markdown] slideshow={"slide_type": "-"}
# 十二种方法给出十二种“解释”，有的是一片暖色，有的是细碎的边缘。哪一张是对的？光看是看不出来的，下面开始量。

# %% [markdown] slideshow={"slide_type": "subslide"}
# 在浏览器里自己换着看：`widgets.cam_explorer` 的“方法”菜单列出 `cam.METHODS` 里的全部 CAM 方法（CAM 本身只在分类头是
# “全局平均池化 + 一个全连接层”时出现）。每种方法、每个类别、每一层的图只算一次；之后再切换或拖动 α 只是重画。
# Score-CAM 第一次要做几十次前向传播，要等一两秒。

# %% slideshow={"slide_type": "-"}
explorer = widgets.cam_explorer(bundle, "cat_and_cup", method="grad_cam_pp")
explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. 忠实度：删除曲线与插入曲线
#
# 把像素按热力图的值从大到小排序（同值按行优先顺序）。
#
# - **删除（deletion）**：第 $k$ 步把前 $k/K$ 的像素（三个通道一起）换成**底图**（substrate），记下模型对原类别的 softmax 概率 $p_k$。
#   图越忠实，最重要的像素越早被删，概率掉得越快：删除 AUC **越小越好**。底图：全 0（模型的输入已按 ImageNet 均值和标准差归一化，
#   全 0 就是 ImageNet 的平均颜色），与 RISE 相同。
# - **插入（insertion）**：从一张模糊的图（11×11 高斯核，σ = 5，与 RISE 相同）出发，按同样的顺序把原像素放回去：插入 AUC **越大越好**。
#
# 曲线下面积用梯形公式：$\mathrm{AUC} = \sum_{k=0}^{K-1} \frac{1}{K}\cdot\frac{p_k + p_{k+1}}{2}$，这里 $K = 10$。
# 每条曲线的 11 张图放在一个批次里送进模型：一条曲线只要一次前向传播。

# %% slideshow={"slide_type": "subslide"}
x, c = photo_x["cat"], photo_cls["cat"]
curves = {name: (faithfulness.deletion_curve(model, x, m, c, steps=STEPS),
                 faithfulness.insertion_curve(model, x, m, c, steps=STEPS))
          for name, m in photo_maps["cat"].items()}

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=80)
for name, pair in curves.items():
    style = {"color": "gray", "ls": "--", "lw": 2} if name in BASELINES else {"lw": 1}
    for ax, curve in zip(axes, pair, strict=True):
        ax.plot(curve.fractions, curve.probs, label=f"{name} ({curve.auc:.3f})", **style)
for ax, title in zip(axes, ("删除：概率掉得越快越好（AUC 越小越好）", "插入：概率升得越快越好（AUC 越大越好）"),
                     strict=True):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("改动的像素比例")
    ax.set_ylabel(f"p({bundle.categories[c]})")
axes[1].legend(fontsize=6, ncol=2, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 两张照片上每种方法的删除 AUC 和插入 AUC（两张照片的平均），以及它在 14 张图中的名次：

# %% slideshow={"slide_type": "-"}
scores = {name: {"deletion": [], "insertion": []} for name in photo_maps[PHOTOS[0]]}
for photo, x in photo_x.items():
    for name, m in photo_maps[photo].items():
        if photo == "cat":
            d, i = curves[name]
        else:
            d = faithfulness.deletion_curve(model, x, m, photo_cls[photo], steps=STEPS)
            i = faithfulness.insertion_curve(model, x, m, photo_cls[photo], steps=STEPS)
        scores[name]["deletion"].append(d.auc)
        scores[name]["insertion"].append(i.auc)
dele = {k: float(np.mean(v["deletion"])) for k, v in scores.items()}
ins = {k: float(np.mean(v["insertion"])) for k, v in scores.items()}
rank_d = {k: r + 1 for r, k in enumerate(sorted(dele, key=dele.get))}  # 1 = lowest deletion
rank_i = {k: r + 1 for r, k in enumerate(sorted(ins, key=ins.get, reverse=True))}  # 1 = highest
print(f"{'method':<22s} {'deletion ↓':>10s} {'rank':>5s} {'insertion ↑':>12s} {'rank':>5s}")
for k in sorted(ins, key=ins.get, reverse=True):
    print(f"{k:<22s} {dele[k]:>10.3f} {rank_d[k]:>5d} {ins[k]:>12.3f} {rank_i[k]:>5d}")
for b in BASELINES:
    beaten_d = [k for k in dele if k not in BASELINES and dele[k] > dele[b]]
    beaten_i = [k for k in ins if k not in BASELINES and ins[k] < ins[b]]
    print(f"baseline {b}: deletion better than {len(beaten_d)} of 12 methods, "
          f"insertion better than {len(beaten_i)} of 12 methods")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 读这张表时要直说的几件事（请对照上面打印的名次）：
#
# - **删除 AUC 上，随机图并不落后**：把散落在全图的像素换成平均色，是一种模型训练时从没见过的“噪声”，概率会很快下降——
#   删除曲线奖励的是“破坏图像”，不只是“删掉证据”。所以删除 AUC 单独拿来排名并不可靠，要与插入 AUC 一起看；
# - 插入 AUC 从模糊图出发，受这种噪声的影响小得多：看 baseline 那两行，对照在插入 AUC 上胜过的方法比在删除 AUC 上少得多；
# - 同一种方法在两种曲线上的名次可以差得很远（比较 CAM 家族与像素归因的两列名次）：只报一个指标的论文，结论要打折扣；
# - 只有 2 张照片、10 步：这张表说明的是**怎么量**，不是哪种方法在 ImageNet 上最好。想要后者，把 `PHOTOS` 换成几百张图、`STEPS` 调大。

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 与发表的数字并排
#
# 平均置信度下降（Average Drop）和置信度上升的比例（Increase in Confidence，Chattopadhay 等 2018）：把输入乘以热力图
# （在归一化后的输入空间里，与 torchcam 的实现相同），看原类别的概率：
# $\text{Average Drop} = \frac{1}{N}\sum_i \frac{\max(0,\,Y_i - O_i)}{Y_i}$（越小越好），
# $\text{Increase} = \frac{1}{N}\sum_i [\,Y_i < O_i\,]$（越大越好），$Y_i$、$O_i$ 是原图和“乘以热力图后”的概率。

# %% slideshow={"slide_type": "-"}
xs = torch.cat([photo_x[p] for p in PHOTOS])  # (2, 3, 224, 224)
cls = [photo_cls[p] for p in PHOTOS]
published = {  # torchcam 0.5.0 README: resnet18, Imagenette validation set, 224 x 224
    "grad_cam": (0.2686, 0.2250), "grad_cam_pp": (0.5271, 0.1962), "layer_cam": (0.1712, 0.2819)}
print(f"{'method':<12s} {'ours: EfficientNet-Lite0, 2 photos':>36s}   "
      f"{'torchcam: resnet18, Imagenette val':>36s}")
print(f"{'':<12s} {'avg drop':>17s} {'increase':>18s}   {'avg drop':>17s} {'increase':>18s}")
for name, (drop, inc) in published.items():
    maps = np.stack([photo_maps[p][name] for p in PHOTOS])  # (2, 224, 224)
    ours = faithfulness.confidence_change(model, xs, maps, cls)
    print(f"{name:<12s} {ours['avg_drop']:>17.3f} {ours['increase']:>18.3f}   "
          f"{drop:>17.3f} {inc:>18.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# | 来源 | 模型 | 数据 | 数字 |
# | --- | --- | --- | --- |
# | torchcam 0.5.0 的 README（上表右半） | ResNet18 | Imagenette 验证集（ImageNet 的 10 类子集），224×224 | Grad-CAM / Grad-CAM++ / Layer-CAM 的 Average Drop 与 Increase |
# | RISE 论文（Petsiuk 等 2018） | ResNet50 | ImageNet 验证集 | RISE 方法自己的删除 AUC 约 0.1、插入 AUC 在 0.7 以上 |
#
# 只有 2 张照片时，Increase 只可能是 0、0.5 或 1，所以三种方法的这一列很可能一样——这本身就说明样本太少。
#
# 这些数字**不能**与我们的直接比较：模型不同（ResNet 对 EfficientNet-Lite0），图片不同（几千张验证集图片对 2 张照片），
# 解释的类别、底图、步数也不同（RISE 每步改 224 个像素，共 224 步；我们 10 步），而且 AUC 取决于模型本身有多自信——
# 一个对原图只给 0.4 概率的模型，插入 AUC 不可能到 0.7。并排放在这里，是为了知道这些指标在文献里大概是什么量级，
# 以及读论文时要先问“哪个模型、哪些数据、什么底图”。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. 健全性检查：把模型换成随机数
#
# Adebayo 等（2018）的想法很简单：如果一张热力图在解释**模型**，那么把模型的权重换成随机数，图就应该变。
# **级联模型随机化**从分类层开始，一块一块往下（往输入方向）重新初始化权重，每一步都重新算热力图，
# 与原图比较两种相似度（都只看形状，不看绝对大小）：
#
# - Spearman 秩相关（Spearman's ρ）：两张图的像素按值排名，名次之间的相关系数；
# - 结构相似度（SSIM，Wang 等 2004）：11×11 高斯窗口内比较亮度、对比度和结构，再对全图平均。
#
# 原模型不会被改动：`sanity.cascading_randomization` 先深拷贝一份，只改拷贝。论文的发现是：梯度和 Grad-CAM 会随之改变，
# 而导向反向传播（Guided Backprop）几乎不变——它更像一个边缘检测器。在这里量一量。

# %% slideshow={"slide_type": "subslide"}
SANITY = {  # the methods in the test, each as fn(model, layer, x, class_idx) -> map (H, W)
    "grad_cam": lambda m, ly, x, c: cam.grad_cam(m, ly, x, c).cam,
    "saliency": lambda m, ly, x, c: attribution.saliency(m, x, c).map,
    "guided_backprop": lambda m, ly, x, c: attribution.guided_backprop(m, x, c).map,
    "guided_grad_cam": lambda m, ly, x, c: attribution.guided_grad_cam(m, x, c, layer=ly).map,
}
x, c = photo_x["cat"], photo_cls["cat"]
original = {k: f(model, layer, x, c) for k, f in SANITY.items()}
blocks = sanity.blocks_top_down(model)
print(len(blocks), "blocks, top down:", ", ".join(blocks))
before = {k: v.clone() for k, v in model.state_dict().items()}
rho = {k: [] for k in SANITY}
sim = {k: [] for k in SANITY}
last_maps = {}
for step, (block, rnd) in enumerate(sanity.cascading_randomization(model, blocks, seed=0)):
    rnd_layer = rnd.get_submodule(bundle.gradcam_layer_name)
    for k, f in SANITY.items():
        m = f(rnd, rnd_layer, x, c)  # the same class as on the trained model
        rho[k].append(sanity.spearman(original[k], m))
        sim[k].append(sanity.ssim(original[k], m))
        if step == len(blocks) - 1:
            last_maps[k] = m
assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
print("the trained model is unchanged: randomization worked on a copy")

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=80)
steps_x = np.arange(len(blocks) + 1)
for k in SANITY:
    axes[0].plot(steps_x, [1.0] + rho[k], marker="o", ms=3, label=k)
    axes[1].plot(steps_x, [1.0] + sim[k], marker="o", ms=3, label=k)
for ax, name in zip(axes, ("Spearman ρ（与原图）", "SSIM（与原图）"), strict=True):
    ax.set_xticks(steps_x, ["原模型"] + blocks, rotation=60, fontsize=7)
    ax.set_ylabel(name)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("已随机化到哪一块（从分类层往下累积）")
axes[0].legend(fontsize=7)
fig.suptitle("级联模型随机化：EfficientNet-Lite0，猫的照片", fontsize=10)
fig.tight_layout()
plt.show()
print(f"{'method':<18s} {'ρ, classifier random':>21s} {'ρ, all random':>14s} "
      f"{'SSIM, all random':>17s}")
for k in SANITY:
    print(f"{k:<18s} {rho[k][0]:>21.3f} {rho[k][-1]:>14.3f} {sim[k][-1]:>17.3f}")
for k in SANITY:
    verdict = "barely changes" if rho[k][0] >= 0.9 else "changes"
    print(f"{k}: with only the classifier randomized the map {verdict} (ρ = {rho[k][0]:.3f})")

# %% slideshow={"slide_type": "subslide"}
img = crop_image(x)
fig, axes = plt.subplots(2, len(SANITY), figsize=(2.0 * len(SANITY), 4.2), dpi=80)
for j, k in enumerate(SANITY):
    axes[0, j].imshow(original[k], cmap="gray")
    axes[1, j].imshow(last_maps[k], cmap="gray")
    axes[0, j].set_title(k, fontsize=8)
axes[0, 0].set_ylabel("训练好的模型", fontsize=9)
axes[1, 0].set_ylabel("全部随机化", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# 看曲线时注意两点：
#
# - 一种方法的曲线在**只随机化了分类层**之后就掉下去，说明它的图确实依赖模型学到的东西；一直停在高处的，说明图主要由输入图像本身决定；
# - Spearman 和 SSIM 可以给出不同的答案：SSIM 看局部结构，一张“边缘图”和另一张“边缘图”即使排名不同，结构也可能相似。
#
# 上面打印的几行就是本次的实测结果（论文用的是 Inception v3 等模型）。在这次运行里，只随机化分类层之后，
# Guided Backprop 的图几乎不变（ρ 接近 1），与论文的发现一致：它对模型最上面几层学到了什么几乎不敏感；Grad-CAM 和梯度（saliency）的图则随之改变。
# Guided Grad-CAM 是 Guided Backprop 与 Grad-CAM 的逐像素乘积，介于两者之间。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. 玩具世界：答案已知的图像
#
# 真实照片里没有“正确的热力图”。玩具世界（`helpers.toy.world`）里有：每张 64×64 的图上有一个或两个图形（圆形、正方形、三角形、
# 五角星、十字、圆环），背景有纹理，图形的像素掩码（mask）是已知的。在上面训练了三个小网络：
#
# - `vgg`：VGG 式的卷积主干 + 展平（flatten）+ 全连接头——没有类权重，CAM 不能用，要用 Grad-CAM（对应图 9-8 的情形）；
# - `gap`：同样的主干 + 全局平均池化 + 一个全连接层——CAM 可以用（对应图 9-7 的情形）；
# - `vgg_shuffled`：与 `vgg` 相同，但训练时**标签被打乱**：它只能死记训练图片，学不到“形状”。

# %% slideshow={"slide_type": "subslide"}
torch.set_num_threads(1)  # tiny networks from here on: a second thread mostly waits (and slows)
nets = {kind: shapes.load_net(kind) for kind in ("vgg", "gap", "vgg_shuffled")}
single = shapes.make_batch(N_SINGLE, seed=1, objects=1)  # held-out: the nets were trained on seed 0
pair = shapes.make_batch(N_PAIR, seed=2, objects=2)
for kind, net in nets.items():
    with torch.no_grad():
        pred = net(single.images).argmax(dim=1)  # (N,)
    print(f"{kind:<13s} accuracy on the {N_SINGLE} held-out images: "
          f"{float((pred == single.labels[:, 0]).float().mean()):.3f}")

toy_x, toy_c = single.images[:1], int(single.labels[0, 0])
toy_maps = {k: v[0] for k, v in all_maps(nets["vgg"], shapes.target_layer(nets["vgg"]), toy_x,
                                          toy_c, occlusion_window=8).items()}
toy_img = Image.fromarray((toy_x[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
show_maps(toy_img.resize((128, 128), Image.Resampling.NEAREST), toy_maps,
          f"玩具世界，vgg 网络，类别 {shapes.CLASS_NAMES_ZH[toy_c]}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 4.1 数据随机化：打乱标签训练的网络
#
# Adebayo 等的第二个检验：如果模型学不到任何东西（标签是随机的），一张忠实的热力图就不该还指着物体。
# 下面比较 `vgg` 与 `vgg_shuffled` 在同一批图上的热力图（解释的都是真实类别），以及两者的指向游戏命中率。

# %% slideshow={"slide_type": "subslide"}
labels = single.labels[:, 0].tolist()
masks = single.masks[:, 0].numpy()  # (N, 64, 64)
toy_all = {kind: all_maps(nets[kind], shapes.target_layer(nets[kind]), single.images, labels,
                          occlusion_window=8)
           for kind in ("vgg", "gap", "vgg_shuffled")}
print(f"{'method':<22s} {'ρ(vgg, shuffled)':>16s} {'hit vgg':>8s} {'hit shuffled':>13s} "
      f"{'flat shuffled':>14s}")
for k in toy_all["vgg"]:
    a, b = toy_all["vgg"][k], toy_all["vgg_shuffled"][k]
    r = np.array([sanity.spearman(a[i], b[i]) for i in range(len(a))])  # NaN: a flat map
    r = float(r[np.isfinite(r)].mean()) if np.isfinite(r).any() else float("nan")
    hits = [localization.pointing_game(t[k], masks).mean()
            for t in (toy_all["vgg"], toy_all["vgg_shuffled"])]
    flat = (b.reshape(len(b), -1).max(axis=1) == b.reshape(len(b), -1).min(axis=1)).mean()
    print(f"{k:<22s} {r:>16.3f} {hits[0]:>8.3f} {hits[1]:>13.3f} {flat:>14.3f}")
print("ρ: mean over the images where neither map is flat (nan: every pair had a flat map)")

# %% slideshow={"slide_type": "subslide"}
show = ("grad_cam", "layer_cam", "saliency", "guided_backprop", "integrated_gradients", "sobel")
fig, axes = plt.subplots(2, len(show) + 1, figsize=(1.8 * (len(show) + 1), 3.9), dpi=80)
for i, kind in enumerate(("vgg", "vgg_shuffled")):
    axes[i, 0].imshow(toy_img)
    axes[i, 0].set_ylabel(kind, fontsize=9)
    for j, k in enumerate(show, start=1):
        axes[i, j].imshow(toy_all[kind][k][0], cmap="jet", vmin=0, vmax=1)
        axes[0, j].set_title(k, fontsize=8)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# 读这张表时注意最后一列：打乱标签训练的网络在多数新图上给出**全平**的图（梯度处处为 0：它对没见过的图几乎没有反应），
# 这时 Spearman 没有定义（表中的 ρ 只在两张图都不平的图片上平均，全部不平的图都没有时为 nan）。
# 所以这里的“数据随机化检验”主要看两列命中率：方法的命中率从 `vgg` 到 `vgg_shuffled` 掉了多少；
# 不看模型的 random 与 sobel 在两个网络上一模一样（ρ = 1），这正是它们通不过健全性检查的样子。

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 4.2 与真值对照
#
# 对每种方法、每个网络：
#
# - **指向游戏**（pointing game，Zhang 等 2016）：热力图最大值的位置落在目标物体的掩码里，算命中；这里容差为 0 像素
#   （原文在约 224 像素的图上允许 15 像素）。一张全平的图没有最大值，算不命中。
# - **掩码内能量**：$\sum (\text{map} \cdot \text{mask}) / \sum \text{map}$，热力图的“质量”有多少落在物体上（1 为全部）。
# - **类别区分度**（双物体图）：解释类别 A 的图，落在 A 和 B 两个物体上的能量中，A 占多少：$E_A / (E_A + E_B)$；0.5 表示分不清，
#   表中给的是“A 占多数”的图的比例（A、B 两个类别各解释一次）。
# - **flat**：整张图是常数（通常是 ReLU 之后全为 0）的比例：这样的图什么也没指出。

# %% slideshow={"slide_type": "subslide"}
pa, pb = pair.labels[:, 0].tolist(), pair.labels[:, 1].tolist()
ma, mb = pair.masks[:, 0].numpy(), pair.masks[:, 1].numpy()
truth = {}
for kind in ("vgg", "gap"):
    net, ly = nets[kind], shapes.target_layer(nets[kind])
    maps_a = all_maps(net, ly, pair.images, pa, occlusion_window=8)
    maps_b = all_maps(net, ly, pair.images, pb, occlusion_window=8)
    single_maps = dict(toy_all[kind])
    if kind == "gap":  # CAM needs the class weights of a GAP + linear head
        w = shapes.class_weights(net)
        single_maps["cam"] = cam.class_weight_cam(net, ly, w, single.images, labels).cam
        maps_a["cam"] = cam.class_weight_cam(net, ly, w, pair.images, pa).cam
        maps_b["cam"] = cam.class_weight_cam(net, ly, w, pair.images, pb).cam
    for k, m in single_maps.items():
        disc = np.concatenate([localization.discriminates(maps_a[k], ma, mb),
                               localization.discriminates(maps_b[k], mb, ma)])
        flat = m.reshape(len(m), -1)
        truth[kind, k] = (localization.pointing_game(m, masks).mean(),
                          np.nanmean(localization.energy_in_mask(m, masks)), disc.mean(),
                          (flat.max(axis=1) == flat.min(axis=1)).mean())
area = float(masks.mean())
methods = ["cam"] + list(toy_all["vgg"])
print(f"{'':<22s} {'vgg (flatten + FC)':^35s} | {'gap (GAP + linear)':^35s}")
print(f"{'method':<22s}" + f" {'point':>8s} {'energy':>8s} {'discr':>8s} {'flat':>8s} |" * 2)
for k in methods:
    cells = []
    for kind in ("vgg", "gap"):
        v = truth.get((kind, k))
        cells.append("".join(f"{u:>8.3f} " for u in v) if v else f"{'—':>8s} " * 4)
    print(f"{k:<22s} {cells[0]}| {cells[1]}")
print(f"(an object covers {area:.3f} of the image on average: the energy of a flat map)")
for kind in ("vgg", "gap"):
    for j, what in enumerate(("pointing game", "energy", "discrimination")):
        best = max((k for k in methods if (kind, k) in truth), key=lambda k: truth[kind, k][j])
        print(f"{kind}: best {what}: {best} ({truth[kind, best][j]:.3f})")

# %% [markdown] slideshow={"slide_type": "-"}
# 看这张表时的几个问题（答案以打印的数字为准）：
#
# - 同一种方法在两个网络上差多少？`vgg` 的头是“展平 + 全连接”（与图 9-8 的 VGG16 同类），CAM 用不了；Grad-CAM 在这里表现如何，
#   有多少张图是全平的？换成 `gap` 网络呢？
# - CAM 只在 `gap` 网络上有一行：它和 Grad-CAM 是否一样？（9.2.2 节证明过：在“全局平均池化 + 一个全连接层”的网络上，两者只差一个正的常数。）
# - Sobel 边缘图不看模型，但在“图形颜色均匀、背景有纹理”的图上能指中多少？哪些方法还不如它？

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. 文本：注意力是解释吗？
#
# 9.3 节把 AttnGRU 分类器的注意力权重画成了红色的深浅，并用一个删词实验看到：删掉注意力最大的词，
# 比删掉随机的词影响大得多，但“删掉后影响最大的词”常常**不是**注意力最大的那个。
# 这里把这个问题问得更严格，照 Jain 和 Wallace（2019，“Attention is not Explanation”）的做法：
# 对测试集里的评论，用三种办法给每个词打一个“重要性”分数，再看三种排序彼此一致到什么程度。
# 为了在 CPU 上几秒内算完，取测试集里前 200 条 5～60 个词的评论（留一法每个词要多算一次前向传播）。
#
# 设模型预测的类别为 $c$，第 $t$ 个词的词向量为 $x_t$（embedding），预测类别的 logit 为 $z_c$、概率为 $p_c$：
#
# | 分数 | 公式 | 含义 |
# | --- | --- | --- |
# | 注意力（attention） | $a_t$ | 模型自己给出的权重 |
# | 留一法（leave-one-out） | $\Delta_t = p_c(x) - p_c(x_{\setminus t})$ | **删掉**第 $t$ 个词（句子变短一个词）后，预测类别的概率下降多少 |
# | 梯度 × 输入（gradient × input） | $g_t = \sum_e x_{t,e}\, \partial z_c / \partial x_{t,e}$ | logit 对词向量的梯度与词向量的内积，用 `torch.autograd.grad` 求 |
#
# 留一法直接做了“干预”：拿掉一个词，看输出变没变，是这里最接近“这个词对预测有多重要”的量；
# 梯度 × 输入是它的一阶近似，只要一次反向传播。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 排序的一致程度：Kendall τ
#
# 两组分数 $u, v$（长度 $n$）的 Kendall 秩相关系数（Kendall's tau）只看**排序**：任取两个词 $i<j$，
# 两组分数给出的先后相同，这一对就是“一致对”（concordant），相反就是“不一致对”（discordant）。
# $C$、$D$ 为一致对、不一致对的个数，$n_0 = n(n-1)/2$，$n_1, n_2$ 为 $u$、$v$ 中打平（tie）的对数：
#
# $$\tau_b = \frac{C - D}{\sqrt{(n_0 - n_1)(n_0 - n_2)}} \in [-1, 1]$$
#
# 排序完全相同时 $\tau_b = 1$，完全相反时 $-1$，毫无关系时在 0 附近。每句话算一个 $\tau_b$，
# 再像 Jain 和 Wallace 那样汇总：平均值 ± 标准差，以及“显著正相关”的句子占多少（sig. frac：
# $\tau_b > 0$ 且双侧 p 值 < 0.05；没有打平时 p 值是精确的，有打平时用正态近似）。
# `rankcorr.kendall_tau` 自己实现了这些公式，测试里与 `scipy.stats.kendalltau` 逐位核对。

# %% slideshow={"slide_type": "subslide"}
docs = attn_trust.sample_test_reviews(200, min_words=5, max_words=60)  # jieba words
gru, vocab = textmodels.load_text_model("attn_gru")
items = attn_trust.gru_scores(gru, vocab, docs)  # per sentence: attention, loo, grad_input
print(f"{len(items)} test reviews of 5 to 60 words, {np.mean([len(d) for d in docs]):.3f} words "
      "on average")

example = items[3]
print("example:", "".join(example.tokens))
for name in ("attention", "loo", "grad_input"):
    top = example.scores[name].argsort(descending=True)[:3]
    print(f"  top 3 by {name:<10s}:", [(example.tokens[t], round(float(example.scores[name][t]), 3))
                                       for t in top])

# %% [markdown] slideshow={"slide_type": "subslide"}
# 下面的表是 200 句评论上的汇总。Jain 和 Wallace 比较的是**绝对值**：留一法用输出分布的全变差距离
# （total variation distance，二分类时就是 $|\Delta_t|$），梯度也取绝对值；所以表里两种都算：
# 带符号的（本课程的定义）和取绝对值的（他们的定义）。最后一行是对照（baseline）：一组随机分数与留一法的 τ，
# 它告诉我们“完全没有关系”时这张表长什么样（显著正相关的比例应当不超过 0.025 左右：α = 0.05 的双侧检验，只算正的一侧）。

# %% slideshow={"slide_type": "subslide"}
gen = torch.Generator().manual_seed(0)
for it in items:
    it.scores["random"] = torch.rand(len(it.tokens), generator=gen)
pairs = [("attention", "loo"), ("attention", "grad_input"), ("loo", "grad_input"),
         ("random", "loo")]
table = {}
print(f"{'Kendall tau-b, AttnGRU':<26s} {'scores':<7s} {'mean ± std':>15s} {'median':>7s} "
      f"{'[q1, q3]':>16s} {'sig. frac':>9s}")
for a, b in pairs:
    for kind, f in (("signed", lambda s: s), ("|.|", torch.abs)):
        view = [attn_trust.TokenScores(it.tokens, {k: f(it.scores[k]) for k in (a, b)})
                for it in items]
        tau, p = attn_trust.correlate(view, a, b)
        s = table[a, b, kind] = rankcorr.summarize(tau, p)
        print(f"{a + ' vs ' + b:<26s} {kind:<7s} {s['mean']:>7.3f} ± {s['std']:.3f} "
              f"{s['median']:>7.3f} [{s['q1']:>6.3f}, {s['q3']:>6.3f}] {s['sig_frac']:>9.3f}")
print("published, not comparable: Jain & Wallace (2019), their BiLSTM on SST (English movie "
      "sentences), tau(attention, leave-one-out) ≈ 0.29")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 每句话一个 τ，画成直方图（带符号的分数）：

# %% slideshow={"slide_type": "subslide"}
fig, ax = plt.subplots(figsize=(6.0, 2.8))
bins = np.linspace(-1, 1, 41)
for (a, b), color in zip(pairs, ("tab:red", "tab:blue", "tab:green", "tab:gray"), strict=True):
    tau, _ = attn_trust.correlate(items, a, b)
    ax.hist(tau, bins=bins, histtype="step", lw=1.5, color=color, label=f"{a} vs {b}")
ax.axvline(0, color="k", lw=0.5)
ax.set_xlabel("每句的 Kendall τ（AttnGRU，200 条测试评论）")
ax.set_ylabel("句子数")
ax.legend(fontsize=8, loc="upper left")
fig.tight_layout()
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# 读这张表和这张图（数字以上面打印的为准）：
#
# - 注意力与留一法的 τ 与随机对照那一行比，是高还是低？离 1 有多远？“显著”的句子占多少？
# - 留一法与梯度 × 输入这两个“问模型本身”的度量，彼此是否比它们与注意力更一致？
# - Jain 和 Wallace 在英文 SST 上的 BiLSTM 给出 τ ≈ 0.29。但模型、语料、语言、分词、留一法的定义都不同，这个数只能并排看，不能直接比较；
# - 注意力是一条线索，不是解释；要说“模型因为这个词才这样判断”，需要干预式的检验（删词）来支持。

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Transformer：原始注意力与注意力展开（attention rollout）
#
# Transformer 有很多层，每层每个头一个注意力矩阵，而且每层还有残差连接（residual connection）：
# 一层的输出 = 输入 + 注意力的结果。只看最后一层的注意力，忽略了前面各层已经把信息混过一遍。
# Abnar 和 Zuidema（2020）的注意力展开把各层串起来：
#
# $$\hat A_\ell = \mathrm{rownorm}\big(\overline{A_\ell} + I\big),\qquad
# \mathrm{rollout} = \hat A_L \hat A_{L-1} \cdots \hat A_1$$
#
# $\overline{A_\ell}$ 是第 $\ell$ 层各头的平均，$+I$ 代表残差，$\mathrm{rownorm}$ 让每行和为 1。
# 课程的小 Transformer 只用最后一层 `[CLS]` 的向量分类，所以比较的是 `[CLS]` 那一行（原始注意力取最后一层各头平均）。
# 与留一法（删词后预测类别的概率下降）比较，用 Spearman 秩相关系数。

# %% slideshow={"slide_type": "subslide"}
tiny, tiny_vocab = textmodels.load_text_model("transformer")
t_items = attn_trust.transformer_scores(tiny, tiny_vocab, docs)  # the same 200 reviews
print(f"{'Spearman vs leave-one-out':<34s} {'mean ± std':>15s} {'median':>7s} {'[q1, q3]':>16s}")
for name in ("raw", "rollout"):
    rho_t, _ = attn_trust.correlate(t_items, name, "loo", method="spearman")
    s = rankcorr.summarize(rho_t)
    print(f"tiny Transformer, {name:<16s} {s['mean']:>7.3f} ± {s['std']:.3f} {s['median']:>7.3f} "
          f"[{s['q1']:>6.3f}, {s['q3']:>6.3f}]")

# %% [markdown] slideshow={"slide_type": "subslide"}
# MiniLM 没有分类头，它的句向量（sentence embedding）是最后一层所有词元向量的**平均**（mean pooling）。
# 所以这里的留一法量是：删掉一个词元后，句向量与原句向量的余弦相似度（cosine similarity）下降多少，$1 - \cos$；
# 注意力一侧相应地取所有查询行的平均（最后一层各头平均，或 rollout），只比较普通词元（去掉 `[CLS]`、`[SEP]`）。
# 句子是下面几句自己写的英文：

# %% slideshow={"slide_type": "subslide"}
sentences = [
    "The movie was wonderful and the acting was superb.",
    "I hated the food, it was cold and bland.",
    "The cat sat on the mat because it was tired.",
    "The hotel room was clean but the staff were rude.",
    "After a long day at work, she finally went home to rest.",
    "This phone has a great screen and a terrible battery.",
]
m_items = attn_trust.minilm_scores(sentences)
rhos = {name: attn_trust.correlate(m_items, name, "loo", method="spearman")[0]
        for name in ("raw", "rollout")}
for k, s in enumerate(sentences):
    print(f"{s:<58s} raw {rhos['raw'][k]:>6.3f}   rollout {rhos['rollout'][k]:>6.3f}")
print(f"{'MiniLM, mean over the sentences':<58s} raw {rhos['raw'].mean():>6.3f}   "
      f"rollout {rhos['rollout'].mean():>6.3f}")

# %% [markdown] slideshow={"slide_type": "-"}
# 两个模型给出的答案不必一样，这正是要亲手量的原因：展开（rollout）把残差算了进去，但每层都加上单位矩阵，
# 层数多了各词元的分数会变得很平。**哪种注意力更“可信”没有通用答案**：要拿干预式的度量去检验，而且检验的结论取决于模型和度量本身。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. 回到图 9-7 和图 9-8
#
# 教材用 ResNet18 的 CAM（图 9-7）和 VGG16 的 Grad-CAM（图 9-8）说明“模型是根据狗的嘴巴、颈部判断的”。读完本节的数字，
# 这句话应当改成有条件的说法：
#
# 1. **一张图不是证据。** 同一张照片上十二种方法给出十二种样子的图；要说“模型看的是这里”，至少要做删除 / 插入这样的干预，
#    并且与随机图、边缘图这些不看模型的对照比较。
# 2. **CAM 与 Grad-CAM 通过了健全性检查中最要紧的一步**：只随机化分类层，它们的图就变了（上面的曲线）；
#    这说明图 9-7、9-8 的热力图确实来自模型学到的权重，而不只是照片的边缘。通过健全性检查是“必要条件”，不是“充分条件”。
# 3. **分辨率有代价。** CAM 与 Grad-CAM 在 7×7（ResNet18、VGG16 的最后一层也是 7×7）的特征图上算，放大后是一大片暖色：
#    它能回答“大概在哪儿”，回答不了“是嘴巴还是颈部”。书中“嘴巴、颈部及其周围”的说法超出了 7×7 能分辨的程度。
# 4. **解释的是哪个类别、哪一层、哪张图**，这些都要写清楚；玩具世界的表格显示，同一种方法在不同的网络结构上表现不同。
# 5. 教材说 Grad-CAM“似乎更能聚焦关键部位”：在“全局平均池化 + 一个全连接层”的网络上它与 CAM 只差一个常数（9.2.2 节），
#    聚焦程度的差异来自网络和目标层，而不是方法本身。

# %% slideshow={"slide_type": "skip"}
print(f"notebook computed in {time.perf_counter() - T0:.0f} s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 练习
#
# ### 练习 1：删除曲线的 AUC
#
# 写出 `deletion_auc(model, x, saliency, class_idx, steps)`：按 `saliency` 从大到小排序像素，第 $k$ 步（$k = 0, \dots, K$，$K$ = `steps`）
# 把前 $k \cdot HW / K$ 个像素的三个通道置 0，记下 softmax 后类别 `class_idx` 的概率，最后用梯形公式求曲线下面积
# （横坐标是删除比例 $k/K$）。检查函数保证 `steps` 整除 $HW$，且热力图没有相同的值。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def deletion_auc(model: torch.nn.Module, x: torch.Tensor, saliency: torch.Tensor, class_idx: int,
                 steps: int) -> float:
    """Deletion AUC with the zero substrate. Shapes: x (1, 3, H, W), saliency (H, W)."""
    h, w = saliency.shape
    order = saliency.flatten().argsort(descending=True)  # (H*W,): most salient first
    images = []
    for k in range(steps + 1):
        xk = x.clone().flatten(2)  # (1, 3, H*W)
        xk[..., order[: k * h * w // steps]] = 0.0
        images.append(xk.view_as(x))
    with torch.no_grad():
        probs = model(torch.cat(images)).softmax(dim=1)[:, class_idx]  # (steps + 1,)
    return float(np.trapezoid(probs.numpy(), np.linspace(0, 1, steps + 1)))


# %% slideshow={"slide_type": "skip"}
if exercises.trust.check_deletion_auc(deletion_auc):
    mine = deletion_auc(model, photo_x["cat"], torch.from_numpy(photo_maps["cat"]["random"]),
                        photo_cls["cat"], 16)
    ref = faithfulness.deletion_curve(model, photo_x["cat"], photo_maps["cat"]["random"],
                                      photo_cls["cat"], steps=16).auc
    print(f"random map on the cat photo, 16 steps: yours {mine:.3f}, faithfulness {ref:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：指向游戏
#
# 写出 `pointing_hit(cam, mask, tolerance)`：热力图 `cam`（numpy，形状 `(H, W)`）最大值的位置，到掩码 `mask` 中最近像素的
# **欧氏距离**不超过 `tolerance` 时返回 `True`。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def pointing_hit(cam: np.ndarray, mask: np.ndarray, tolerance: int) -> bool:
    """Whether argmax(cam) is within Euclidean distance `tolerance` of the mask."""
    i, j = np.unravel_index(cam.argmax(), cam.shape)
    rows, cols = np.nonzero(mask)
    return bool((((rows - i) ** 2 + (cols - j) ** 2) <= tolerance**2).any())


# %% slideshow={"slide_type": "skip"}
if exercises.trust.check_pointing_hit(pointing_hit):
    gc = toy_all["gap"]["grad_cam"]
    mine = np.mean([pointing_hit(gc[i], masks[i], 0) for i in range(len(gc))])
    print(f"Grad-CAM on the gap network: your hit rate {mine:.3f}, "
          f"localization {localization.pointing_game(gc, masks).mean():.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：先预测，再运行
#
# 在玩具世界的 `gap` 网络（卷积主干 + 全局平均池化 + 一个全连接层）上做同样的级联模型随机化。**先别运行检查单元格**：
# 写出 `predict_sanity(method)`，对第 3 节的四种方法，预测**只随机化全连接层（分类层）**之后，它的图与原图相比
# 是“变”（4 张图上平均的 Spearman ρ < 0.8）还是“不变”（ρ ≥ 0.8）。检查单元格随后才做这次随机化，把你的预测与实测对照。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_sanity(method: str) -> str:
    """Your prediction: "变" (changes) or "不变" (stays) once the classifier layer is random."""
    return "不变" if method == "guided_backprop" else "变"


# %% slideshow={"slide_type": "skip"}
toy_net = nets["gap"]
toy_layer_name = next(n for n, m in toy_net.named_modules() if m is shapes.target_layer(toy_net))
toy_sanity_x, toy_sanity_c = single.images[:4], single.labels[:4, 0].tolist()
toy_orig = {k: [f(toy_net, toy_net.get_submodule(toy_layer_name), toy_sanity_x[i:i + 1], c)
                for i, c in enumerate(toy_sanity_c)] for k, f in SANITY.items()}
toy_curves = {k: [] for k in SANITY}
for _, rnd in sanity.cascading_randomization(toy_net, seed=0):
    for k, f in SANITY.items():
        ms = [f(rnd, rnd.get_submodule(toy_layer_name), toy_sanity_x[i:i + 1], c)
              for i, c in enumerate(toy_sanity_c)]
        rhos_k = [sanity.spearman(a, b) for a, b in zip(toy_orig[k], ms, strict=True)]
        toy_curves[k].append(float(np.nanmean(rhos_k)))
exercises.trust.check_sanity_prediction(predict_sanity, toy_curves, step=0, threshold=0.8)
for k, v in toy_curves.items():
    print(f"{k:<22s} Spearman after each step:", " ".join(f"{u:.3f}" for u in v))
