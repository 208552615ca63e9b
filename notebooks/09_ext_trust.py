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
# # 拓展：热力图可信吗？——三类证据
#
# 这是教材第 9 章**之外**的一次上机实验，不是教材的某一节（教材的“9.4 本章小结”只是一页小结）。
# 9.2 节画出了类激活图（图 9-7、图 9-8），并说“直觉告诉我们，这种决策依据似乎是可信的”。
# 这里不再画新的图，而是**量**：一张热力图在多大程度上说出了模型的决策依据？
#
# 每一类证据都是一次实验，按同样的四步走：**问题 → 你的预测（先记录，再看测量）→ 测量 → 由数字打印出来的结论**。
#
# | 证据 | 问题 | 做法 |
# | --- | --- | --- |
# | 一、图依赖模型吗？ | 把模型的权重换成随机数，图会变吗？ | 级联模型随机化、打乱标签训练的网络（健全性检查，sanity check） |
# | 二、图能预测模型的反应吗？ | 按图的顺序删掉像素，模型的信心掉得快吗？ | 删除 / 插入曲线（deletion / insertion），10 张照片和 200 张玩具图，带置信区间 |
# | 三、图指出模型用的东西了吗？ | 答案由构造决定时，图指得对吗？ | 用了“捷径”的网络（聪明的汉斯）与模型对比（model contrast） |
#
# 最后用同样的眼光看文本的注意力，并用算出来的数字写小结。
#
# **学习目标**：说出三类证据各自回答什么问题；会算删除 / 插入曲线的 AUC 及其自助法（bootstrap）置信区间；
# 知道“底图”（substrate）的选择会改变结论；会用不看模型的对照图（baseline）判断一个数字好不好。

# %% slideshow={"slide_type": "skip"}
# %matplotlib inline
import json
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

import helpers
from helpers import attribution, cam, exercises, load_image, load_model, registry, widgets
from helpers.draw import viz
from helpers.arrays import agreement
from helpers.exercises import concepts
from helpers.images import DATA_DIR
from helpers.text import models as textmodels
from helpers.toy import markers, variants
from helpers.toy import world as shapes
from helpers.trust import attention as attn_trust
from helpers.trust import baselines, bootstrap, faithfulness, imputation, localization, rankcorr
from helpers.trust import reliance, sanity

helpers.setup()
T0 = time.perf_counter()
CACHE = json.loads((DATA_DIR / "trust" / "faithfulness.json").read_text(encoding="utf-8"))
S = CACHE["settings"]
CORE, BASE, STEPS = S["core"], S["baselines"], S["steps"]
PHOTOS = [p for p in CACHE["photos_order"] if p in CACHE["photos"]]  # every real photo the course ships
print("core methods:", ", ".join(CORE), "| baselines:", ", ".join(BASE))
print(f"cached by scripts/make_trust_cache.py: {len(CACHE['photos'])} photos, "
      f"{S['toy']['n']} toy images, {STEPS} steps per curve")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 方法一览
#
# 记号沿用 9.2 节：$A^k$ 是目标层第 $k$ 个通道的特征图（$h\times w$），$s_y$ 是类别 $y$ 的分数（softmax 之前的 logit），
# $W^y_k$ 是分类层里类别 $y$ 对通道 $k$ 的权重，$\alpha^y_k$ 是通道权重，$M^y$ 是类激活图；像素归因（pixel attribution）的结果记为 $R$，
# $x$ 是输入图像。“代价”按一次前向传播（F）、一次反向传播（B）计。
#
# | 方法 | 家族 | 公式（一行） | 一句话 | 代价 |
# | --- | --- | --- | --- | --- |
# | CAM | 类激活图 | $M^y=\sum_k W^y_k A^k$ | 9.2.1 节：只能用于“全局平均池化 + 一个全连接层”的分类头 | 1F |
# | Grad-CAM | 类激活图 | $\alpha^y_k=\frac{1}{hw}\sum_{i,j}\frac{\partial s_y}{\partial A^k_{ij}}$，$M^y=\mathrm{ReLU}(\sum_k\alpha^y_kA^k)$ | 9.2.2 节：用梯度的平均代替类别权重 | 1F+1B |
# | Grad-CAM++ | 类激活图 | $\alpha^y_k=\sum_{i,j}a^k_{ij}\,\mathrm{ReLU}(\frac{\partial s_y}{\partial A^k_{ij}})$ | 每个位置的系数 $a^k_{ij}$ 由梯度的二次、三次幂算出，照顾多个物体 | 1F+1B |
# | XGrad-CAM | 类激活图 | $\alpha^y_k=\sum_{i,j}\frac{A^k_{ij}}{\sum_{a,b}A^k_{ab}}\frac{\partial s_y}{\partial A^k_{ij}}$ | 梯度按激活加权平均 | 1F+1B |
# | HiRes-CAM | 类激活图 | $M^y=\mathrm{ReLU}(\sum_k\frac{\partial s_y}{\partial A^k}\odot A^k)$ | 梯度与激活逐位置相乘，不先求平均 | 1F+1B |
# | Layer-CAM | 类激活图 | $M^y=\mathrm{ReLU}(\sum_k\mathrm{ReLU}(\frac{\partial s_y}{\partial A^k})\odot A^k)$ | 只保留正梯度，逐位置相乘，浅层也能用 | 1F+1B |
# | Score-CAM | 类激活图 | $\alpha^y_k=\mathrm{softmax}_k\,s_y(x\odot\mathrm{up}(A^k))$ | 不用梯度：把每个通道当掩码乘到图上，看分数 | 每个通道 1F |
# | saliency | 像素归因 | $R=\max_c\lvert\partial s_y/\partial x_c\rvert$ | 分数对每个像素的梯度 | 1F+1B |
# | SmoothGrad | 像素归因 | $R=\frac{1}{n}\sum_{t}\partial s_y/\partial x\,(x+\epsilon_t)$ | 加噪声的图上梯度的平均，更平滑 | n(F+B) |
# | Guided Backprop | 像素归因 | ReLU 的反向只让正梯度穿过正输入 | 图很清晰；它是不是只在画边缘，见证据一 | 1F+1B |
# | Guided Grad-CAM | 像素归因 | $R=\mathrm{GuidedBP}\odot\mathrm{up}(M^y_{\text{Grad-CAM}})$ | 两者逐像素相乘 | 2F+2B |
# | Integrated Gradients | 像素归因 | $R=(x-x')\odot\int_0^1\frac{\partial s_y}{\partial x}(x'+t(x-x'))\,dt$ | 从底图 $x'$ 到 $x$ 的路径上梯度的积分；各像素之和约等于 $s_y(x)-s_y(x')$ | m(F+B) |
# | occlusion | 像素归因（扰动） | $R(p)=s_y(x)-s_y(x\text{ 中包含 }p\text{ 的块被遮住})$ | 一块一块遮住，看分数掉多少 | 每块 1F |
# | Eigen-CAM | 类激活图（无类别） | $M=\mathrm{ReLU}(A\,v_1)$，$v_1$ 是把各位置的 $(A^1_{ij},\dots,A^K_{ij})$ 排成矩阵后的第一主成分 | 不看类别：画出激活里变化最大的方向，每个类别得到同一张图 | 1F+SVD |
# | Ablation-CAM | 类激活图 | $\alpha^y_k=\frac{s_y-s_y(A^k:=0)}{s_y}$，$M^y=\mathrm{ReLU}(\sum_k\alpha^y_kA^k)$ | 不用梯度：把第 $k$ 个通道置零，看分数掉多少 | 每个通道 1F（头部） |
# | LRP | 像素归因（分解） | $R_j=\sum_i\frac{a_jw_{ji}}{\epsilon+\sum_{j'}a_{j'}w_{j'i}}R_i$（ε 规则；卷积可换 z⁺ / αβ 规则），从 $R=s_y$ 一层层往回分 | 把分数按各层的贡献分回像素，批归一化先并进卷积 | 1F+1B |
# | RISE | 像素归因（扰动） | $R(p)=\frac{1}{N\,\mathbb{E}[M]}\sum_{i=1}^{N}s_y(x\odot M_i)\,M_i(p)$ | 随机掩码遮图，按分数给掩码加权平均 | 每个掩码 1F |
# | random / centre / sobel | 对照（不看模型） | 均匀噪声 / 中心的高斯包 / 图像的 Sobel 边缘强度 | 一个方法要有用，至少要胜过它们 | 0 |
#
# **核心方法**（正文的图只画这几种，再加对照）：每种**计算机制**取最早、最简单的一种——通道的梯度平均（Grad-CAM）、
# 逐位置的正梯度（Layer-CAM）、像素的梯度（saliency）、路径积分（Integrated Gradients）、遮挡扰动（occlusion）。
# 其余方法是它们的变体（换权重、加噪声、改 ReLU 的反向），放在方法菜单（下面的浏览器）和附录的表里。
# 这个选择写在 `scripts/make_trust_cache.py` 的 `SETTINGS["core"]` 里，按名字选；以后登记的新方法在重新运行这个脚本之后会自动进入附录（下面的附录表来自缓存，所以还没有 Eigen-CAM、Ablation-CAM、LRP 和 RISE）。

# %% slideshow={"slide_type": "subslide"}
bundle = load_model("efficientnet_lite0", source="bundled")
model, layer = bundle.model, bundle.gradcam_layer
print("input normalization: mean", bundle.mean, "std", bundle.std)


def one_map(name: str, net, target_layer, x: torch.Tensor, cls, options: dict) -> np.ndarray:
    """The map of one registered method, any family. Shapes: x (N, 3, H, W) -> (N, H, W)."""
    return np.asarray(registry.explain(name, net, x, cls, layer=target_layer, **options.get(name, {})).maps,
                      dtype=np.float32)  # one signature for both families: helpers.registry



def baseline_maps(x: torch.Tensor) -> dict[str, np.ndarray]:
    """The three maps that ignore the model. Shapes: x (N, 3, H, W) -> (N, H, W) each."""
    n, hw = x.shape[0], tuple(x.shape[-2:])
    return {"random": np.stack([baselines.random_map(hw, seed=i) for i in range(n)]),
            "centre": np.stack([baselines.centre_map(hw)] * n),
            "sobel": np.stack([baselines.sobel_map(x[i:i + 1]) for i in range(n)])}


cat_x = bundle.to_input(load_image("cat"))  # (1, 3, 224, 224)
cat_c = CACHE["photos"]["cat"]["class"]
live_seconds, cat_maps = {}, {}
for name in CORE:
    t = time.perf_counter()
    if name == "integrated_gradients":  # keep the whole result: its signed values are drawn below
        ig = attribution.integrated_gradients(model, cat_x, cat_c, **S["photo_options"][name])
        cat_maps[name] = np.asarray(ig.map, dtype=np.float32).reshape(224, 224)
    else:
        cat_maps[name] = one_map(name, model, layer, cat_x, cat_c, S["photo_options"])[0]
    live_seconds[name] = time.perf_counter() - t
cat_maps |= {k: v[0] for k, v in baseline_maps(cat_x).items()}
ig_signed = ig.raw.reshape(-1, 3, 224, 224)[0].sum(dim=0).numpy()  # (224, 224): signed, RGB summed
print(f"cat photo: class {CACHE['photos']['cat']['label']} ({CACHE['photos']['cat']['prob']:.3f}); "
      f"{len(cat_maps)} maps of shape {cat_maps['grad_cam'].shape}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 下图是猫的照片上核心方法和三张对照图。类激活图叠在照片上；像素归因很稀疏，叠上去几乎看不见，所以单独画，
# 并且**按第 99 百分位截断**（高于它的像素都画成最亮）再归一化。最后一格是积分梯度的**带符号**版本（三个颜色通道求和）：
# 红色支持这个类别，蓝色反对，颜色条关于 0 对称。

# %% slideshow={"slide_type": "subslide"}
def clip99(m: np.ndarray) -> np.ndarray:
    """Clip at the 99th percentile and rescale to [0, 1] (sparse pixel maps become visible)."""
    top = np.percentile(m, 99)
    return np.clip(m / top, 0, 1) if top > 0 else m


def crop_image(x: torch.Tensor) -> Image.Image:
    """The 224 x 224 crop the model saw, back in RGB. Shapes: x (1, 3, H, W)."""
    mean, std = torch.tensor(bundle.mean).view(3, 1, 1), torch.tensor(bundle.std).view(3, 1, 1)
    rgb = (x[0] * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()  # (H, W, 3)
    return Image.fromarray((rgb * 255 + 0.5).astype(np.uint8))


PIXEL = {"saliency", "integrated_gradients"}
cat_img = crop_image(cat_x)
panels = ["grad_cam", "layer_cam", "occlusion", "saliency", "integrated_gradients",
          "random", "centre", "sobel"]
fig, axes = plt.subplots(2, 5, figsize=(15, 6), dpi=70, layout="constrained")
axes[0, 0].imshow(cat_img)
axes[0, 0].set_title("模型看到的 224×224", fontsize=11)
jet = matplotlib.colormaps["jet"]
for ax, name in zip(list(axes.flat[1:9]), panels, strict=True):
    m = cat_maps[name]
    if name in PIXEL:
        im = ax.imshow(clip99(m), cmap="magma", vmin=0, vmax=1)
        ax.set_title(f"{name}（截断于 p99）", fontsize=11)
    else:
        ax.imshow(viz.overlay(cat_img, m, alpha=0.5))
        im = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), jet)
        ax.set_title(name + ("（对照）" if name in BASE else ""), fontsize=11)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
lim = float(np.percentile(np.abs(ig_signed), 99))
im = axes[1, 4].imshow(ig_signed, cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[1, 4].set_title("积分梯度，带符号", fontsize=11)
fig.colorbar(im, ax=axes[1, 4], fraction=0.046, pad=0.02)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()
print(f"signed Integrated Gradients: {float((ig_signed > 0).mean()):.3f} of the pixels positive, "
      f"colour scale ±{lim:.3f} (the 99th percentile of |R|)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 每种方法花多少时间？下图是 `scripts/make_trust_cache.py` 在 10 张照片上量出的每张图的秒数（中位数，对数坐标），
# 点是本次运行现场量的核心方法。机器同时在忙别的事时，这些数都会变大。

# %% slideshow={"slide_type": "-"}
ALL = list(CACHE["photos"]["cat"]["seconds"])
sec = {k: float(np.median([CACHE["photos"][p]["seconds"][k] for p in PHOTOS])) for k in ALL}
order = sorted(ALL, key=sec.get)
fig, ax = plt.subplots(figsize=(8, 3.6), dpi=80)
ax.barh(order, [sec[k] for k in order], color=["tab:blue" if k in CORE else "tab:gray" for k in order])
ax.scatter([live_seconds[k] for k in order if k in CORE], [k for k in order if k in CORE],
           color="black", zorder=3, label="本次运行（猫）")
ax.set_xscale("log")
ax.set_xlabel("每张图的秒数（CPU，对数坐标）")
ax.legend(loc="lower right", fontsize=9)
ax.set_title("蓝色：核心方法；灰色：其余方法", fontsize=10)
fig.tight_layout()
plt.show()
print(f"median seconds per map: fastest {order[0]} {sec[order[0]]:.3f}, "
      f"slowest {order[-1]} {sec[order[-1]]:.3f} ({sec[order[-1]] / sec[order[0]]:.0f} times slower)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 在浏览器里自己换着看：`widgets.cam_explorer` 的“方法”菜单列出 `cam.METHODS` 里的全部类激活图方法（CAM 本身只在分类头是
# “全局平均池化 + 一个全连接层”时出现）。每种方法、每个类别、每一层的图只算一次；之后再切换或拖动透明度只是重画。

# %% slideshow={"slide_type": "-"}
explorer = widgets.cam_explorer(bundle, "cat_and_cup", method="grad_cam_pp")
explorer

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 证据一：图依赖模型吗？
#
# **问题**：Adebayo 等（2018）的健全性检查——如果一张热力图在解释**模型**，把模型的权重换成随机数，图就应当变。
# **级联模型随机化**从分类层开始，一块一块往下（往输入方向）把权重重新初始化，每一步重新画图，
# 用 Spearman 秩相关 $\rho$ 与训练好的模型的图比较（只看像素的排名）。原模型不变：随机化在深拷贝上做。
#
# **先预测**（写在下面的函数里，运行检查单元格时先记录你的答案，再显示测量）：
# 当**所有**层都随机化之后，Grad-CAM 的图与原图的 $\rho$（10 张照片的平均）会回升到 0 以上吗？
# 也就是说，一个完全随机的网络画出的 Grad-CAM，会不会反而有点像训练好的网络画的？

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_rebound() -> bool:
    """True: with every layer random, Grad-CAM's map correlates positively with the trained map."""
    return False


# %% slideshow={"slide_type": "subslide"}
steps = S["cascade_steps"]
cascade = {k: np.array([CACHE["photos"][p]["cascade"][k]["rho"] for p in PHOTOS])  # (photos, steps)
           for k in S["cascade_methods"]}
to_sobel, to_centre, trained_sobel, trained_centre = (
    {k: np.array([CACHE["photos"][p]["cascade"][k][key] for p in PHOTOS]) for k in S["cascade_methods"]}
    for key in ("rho_sobel", "rho_centre", "trained_sobel", "trained_centre"))  # (photos, steps) or (photos,)
# live check: Grad-CAM on the cat photo, the same steps, against the cache
live_rho = []
for block, rnd in sanity.cascading_randomization(model, seed=0):
    if block in steps:
        m = one_map("grad_cam", rnd, rnd.get_submodule(bundle.gradcam_layer_name), cat_x, cat_c, {})[0]
        live_rho.append(sanity.spearman(cat_maps["grad_cam"], m))
cached_rho = cascade["grad_cam"][PHOTOS.index("cat")]
assert np.array_equal(np.isnan(live_rho), np.isnan(cached_rho))  # NaN: a flat map (no ranking)
gap_cascade = float(np.nanmax(np.abs(np.array(live_rho) - cached_rho)))
assert gap_cascade < 0.01, gap_cascade
print(f"live recomputation (Grad-CAM, cat, {len(steps)} steps) matches the cache: "
      f"largest difference {gap_cascade:.4f}")
flat = {k: int(np.isnan(v).sum()) for k, v in cascade.items()}
print("maps that came out flat (constant, e.g. all zero after ReLU; ρ undefined, left out of the means):",
      flat, f"of {len(PHOTOS)} photos x {len(steps)} steps")
rebound = float(np.nanmean(cascade["grad_cam"][:, -1]))
concepts.check_prediction("全部随机化后 Grad-CAM 的 ρ 大于 0 吗", predict_rebound, rebound > 0,
                          hint="随机的网络经过 ReLU 之后，Grad-CAM 还剩下多少结构？有几张图会是全平的？")
print(f"Grad-CAM, all layers random: mean ρ with the trained map {rebound:.3f} over {len(PHOTOS)} photos")

# %% slideshow={"slide_type": "subslide"}
STYLE = {"grad_cam": ("tab:blue", "-", "o"), "layer_cam": ("tab:orange", "--", "s"),
         "saliency": ("tab:green", "-.", "^"), "integrated_gradients": ("tab:red", ":", "D"),
         "occlusion": ("tab:purple", (0, (5, 1)), "v"), "guided_backprop": ("tab:brown", "--", "P"),
         "random": ("0.5", (0, (1, 1)), "x"), "centre": ("0.3", (0, (3, 1, 1, 1)), "+"),
         "sobel": ("black", (0, (6, 2)), "*")}


def band(ax, xs, values, name, label=None):
    """Mean over the photos with its bootstrap 95 % interval as a band. Shapes: values (photos, K)."""
    ci = np.array([bootstrap.bootstrap_ci(v[np.isfinite(v)]) for v in values.T])  # (K, 3); NaN: flat map
    color, ls, marker = STYLE[name]
    ax.plot(xs, ci[:, 0], color=color, ls=ls, marker=marker, ms=5, label=label or name)
    ax.fill_between(xs, ci[:, 1], ci[:, 2], color=color, alpha=0.15)


xs = np.arange(len(steps) + 1)
fig, axes = plt.subplots(1, 3, figsize=(15, 4), dpi=80, layout="constrained")
for k in S["cascade_methods"]:
    n = len(PHOTOS)
    band(axes[0], xs, np.hstack([np.ones((n, 1)), cascade[k]]), k)
    band(axes[1], xs, np.hstack([trained_sobel[k][:, None], to_sobel[k]]), k)
    band(axes[2], xs, np.hstack([trained_centre[k][:, None], to_centre[k]]), k)
for ax, ylabel in zip(axes, ("ρ（与训练好的模型的图）", "ρ（与 Sobel 边缘图）", "ρ（与中心的高斯包）"),
                      strict=True):
    ax.set_xticks(xs, ["训练好的"] + [f"到 {s}" for s in steps], rotation=30, fontsize=9)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("已随机化到哪一块（从分类层往下累积）", fontsize=9)
axes[2].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9)
fig.suptitle(f"级联模型随机化，EfficientNet-Lite0，{len(PHOTOS)} 张照片的平均与 95% 自助法区间", fontsize=11)
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# 在一张照片上，曲线可能先降后升（“回升”：下面按照片打印了途中的最低值和全部随机化之后的值）。后两幅图测量回升从哪里来：把每一步的图与两张**不看模型**的图比较——
# 图像自己的 Sobel 边缘图，和中心的高斯包（centre）。如果随机网络的图与训练好的网络的图都像其中一张，
# 两者的相似就来自这张不看模型的图，而不是“随机网络又学会了什么”。下面按照片列出 Grad-CAM 的数字，结论由数字打印：

# %% slideshow={"slide_type": "-"}
for k in S["cascade_methods"]:
    print(f"{k:<16s} ρ with trained map: classifier random {np.nanmean(cascade[k][:, 0]):.3f}, "
          f"all random {np.nanmean(cascade[k][:, -1]):.3f} | ρ with Sobel: trained "
          f"{trained_sobel[k].mean():.3f}, all random {np.nanmean(to_sobel[k][:, -1]):.3f}")
gc_path = np.nanmean(cascade["grad_cam"], axis=0)  # (steps,)
print(f"Grad-CAM's lowest mean ρ is {gc_path.min():.3f} (randomized down to {steps[int(gc_path.argmin())]}); "
      f"with all layers random it is {rebound:.3f}: it "
      f"{'rebounds' if rebound > gc_path.min() + 0.05 else 'does not rebound'}.")
random_sobel = float(np.nanmean(to_sobel["grad_cam"][:, -1]))
more_edge = random_sobel > trained_sobel["grad_cam"].mean()
print(f"The fully random net's Grad-CAM is {'MORE' if more_edge else 'not more'} like the Sobel edge map "
      f"than the trained net's ({random_sobel:.3f} vs {trained_sobel['grad_cam'].mean():.3f}).")
print(f"\nGrad-CAM per photo: lowest ρ on the way; all layers random ({steps[-1]}): ρ with the trained map, "
      "with Sobel, with centre; the trained map's ρ with centre (nan: a flat map)")
for i, p in enumerate(PHOTOS):
    low = np.nanmin(cascade["grad_cam"][i]) if np.isfinite(cascade["grad_cam"][i]).any() else np.nan
    print(f"  {p:<13s} {low:>7.3f} | {cascade['grad_cam'][i, -1]:>7.3f} {to_sobel['grad_cam'][i, -1]:>7.3f} "
          f"{to_centre['grad_cam'][i, -1]:>7.3f} {trained_centre['grad_cam'][i]:>7.3f}")
up = np.nan_to_num(cascade["grad_cam"][:, -1], nan=-1) > 0.2  # photos where the random net's map is similar
shared = None
if up.any():
    c_up, s_up = np.nanmean(to_centre["grad_cam"][up, -1]), np.nanmean(to_sobel["grad_cam"][up, -1])
    shared = "the centre bump" if c_up > s_up else "the edges"
    print(f"photos with ρ > 0.2 after full randomization: {[p for p, u in zip(PHOTOS, up, strict=True) if u]}; "
          f"there the random net's map has ρ {c_up:.3f} with the centre map and {s_up:.3f} with Sobel, the "
          f"trained map {trained_centre['grad_cam'][up].mean():.3f} with the centre map -> the shared part is "
          f"{shared}")
gb_stays = np.nanmean(cascade["guided_backprop"][:, 0]) > 0.8
print(f"Guided Backprop with only the classifier random: ρ = {np.nanmean(cascade['guided_backprop'][:, 0]):.3f} "
      f"-> it {'barely changes: it does not pass the first step of the test' if gb_stays else 'changes'}.")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 数据随机化：打乱标签训练的网络
#
# 第二个检验：玩具世界（`helpers.toy.world`，64×64 的图上一个图形，背景有纹理，图形的掩码已知）里有两个结构相同的网络：
# `vgg` 用真实标签训练，`vgg_shuffled` 用**打乱的**标签训练（它只能死记训练图）。一张忠实的图，在后者上不该还指着图形。
# 指标是指向游戏（pointing game）：图的最大值落在图形的掩码里算命中。

# %% slideshow={"slide_type": "-"}
torch.set_num_threads(1)  # tiny networks from here on: a second thread mostly waits
nets = {kind: shapes.load_net(kind) for kind in ("vgg", "gap", "vgg_shuffled")}
single = shapes.make_batch(48, seed=1, objects=1)  # held-out: the nets were trained on seed 0
labels, masks = single.labels[:, 0].tolist(), single.masks[:, 0].numpy()  # masks (48, 64, 64)
hit = {}
for kind in ("vgg", "vgg_shuffled"):
    net = nets[kind]
    maps = {k: one_map(k, net, shapes.target_layer(net), single.images, labels, S["toy_options"])
            for k in CORE} | baseline_maps(single.images)
    hit[kind] = {k: float(localization.pointing_game(m, masks).mean()) for k, m in maps.items()}
print(f"{'map':<22s} {'hit, vgg':>9s} {'hit, vgg_shuffled':>18s}")
for k in hit["vgg"]:
    print(f"{k:<22s} {hit['vgg'][k]:>9.3f} {hit['vgg_shuffled'][k]:>18.3f}")
dropped = [k for k in CORE if hit["vgg_shuffled"][k] < hit["vgg"][k]]
print(f"{len(dropped)} of {len(CORE)} core methods point at the shape less often on the shuffled-label net "
      f"({', '.join(dropped)}); the baselines cannot tell the nets apart (the same maps).")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 证据二：图能预测模型的反应吗？删除与插入
#
# 把像素按图的值从大到小排序（同值按行优先）。
#
# - **删除（deletion）**：第 $k$ 步把前 $k/K$ 的像素（三个通道一起）换成**底图**（substrate），记下原类别的概率 $p_k$。
#   图越忠实，概率掉得越快：删除 AUC **越小越好**。默认底图是输入空间里的 0。注意：这个模型的输入按均值、标准差都是一半来归一化
#   （上面打印的 `mean`、`std`），所以 0 是**中灰色**，不是 ImageNet 的平均颜色。
# - **插入（insertion）**：从一张模糊的图（11×11 高斯核，σ = 5，RISE 的做法）出发，按同样的顺序把原像素放回去：插入 AUC **越大越好**。
#
# $\mathrm{AUC}=\sum_{k=0}^{K-1}\frac{1}{K}\cdot\frac{p_k+p_{k+1}}{2}$，这里 $K=10$。每种方法在每张照片上各得一个数；
# 10 张照片（课程的全部照片，`data/README.md` 列出来源和许可）的平均值配上**自助法 95% 区间**：把 10 个数有放回地重抽 2000 次，
# 把 2000 个平均值排序，去掉两端各 50 个，剩下的范围就是区间。
#
# **先预测**：在 10 张照片的平均插入 AUC 上，不看模型的 Sobel 边缘图会比 Grad-CAM 高吗？

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_sobel_beats_grad_cam() -> bool:
    """True: the Sobel edge map has a higher mean insertion AUC than Grad-CAM on the ten photos."""
    return False


# %% slideshow={"slide_type": "subslide"}
live_auc = {}
for name, m in cat_maps.items():  # live: the cat photo, core methods and baselines
    live_auc[name] = (faithfulness.deletion_curve(model, cat_x, m, cat_c, steps=STEPS).auc,
                      faithfulness.insertion_curve(model, cat_x, m, cat_c, steps=STEPS).auc)
gap_auc = max(abs(live_auc[k][j] - CACHE["photos"]["cat"]["auc"][k][kind])
              for k in live_auc for j, kind in enumerate(("deletion", "insertion")))
AUC_TOL = 0.01  # live vs cached AUC: pixel orders of near-tied map values move with float rounding
assert gap_auc < AUC_TOL, gap_auc
print(f"live recomputation (cat, {len(live_auc)} maps, deletion and insertion) matches the cache: "
      f"largest difference {agreement(gap_auc, AUC_TOL)}")
MAIN = CORE + BASE
auc = {kind: {k: np.array([CACHE["photos"][p]["auc"][k][kind] for p in PHOTOS]) for k in ALL + BASE}
       for kind in ("deletion", "insertion")}  # per-photo values
ci = {kind: {k: bootstrap.bootstrap_ci(v) for k, v in auc[kind].items()} for kind in auc}
print(f"{'map':<22s} {'deletion ↓ mean [95% CI]':>28s} {'insertion ↑ mean [95% CI]':>28s}")
for k in MAIN:
    d, i = ci["deletion"][k], ci["insertion"][k]
    print(f"{k:<22s} {d[0]:>10.3f} [{d[1]:.3f}, {d[2]:.3f}] {i[0]:>10.3f} [{i[1]:.3f}, {i[2]:.3f}]")
sobel_wins = bool(ci["insertion"]["sobel"][0] > ci["insertion"]["grad_cam"][0])
_ = concepts.check_prediction("Sobel 的插入 AUC 高于 Grad-CAM 吗", predict_sobel_beats_grad_cam, sobel_wins,
                              hint="边缘多的地方，往往也是物体所在的地方。")

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), dpi=80, layout="constrained")
for ax, kind in zip(axes, ("deletion", "insertion"), strict=True):
    for j, k in enumerate(MAIN):
        color, _, marker = STYLE[k]
        ax.scatter(np.full(len(PHOTOS), j) + np.linspace(-0.2, 0.2, len(PHOTOS)), auc[kind][k],
                   color=color, marker=marker, s=18)
        m, lo, hi = ci[kind][k]
        ax.errorbar(j + 0.35, m, yerr=[[m - lo], [hi - m]], color="black", capsize=3, marker="_", ms=12)
    ax.set_xticks(range(len(MAIN)), MAIN, rotation=30, fontsize=9)
    ax.set_ylabel(f"{kind} AUC")
axes[0].set_title("删除 AUC（越小越好）：每个点是一张照片，黑线是平均值与 95% 区间", fontsize=10)
axes[1].set_title("插入 AUC（越大越好）", fontsize=10)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# 两个方法的差别可靠吗？同一批照片上的比较要用**配对**区间：对每张照片算差值，再对差值做自助法。
# 照片本身的难易（模型对它有多自信）在差值里抵消，区间更窄。区间不含 0，才说一个比另一个好。

# %% slideshow={"slide_type": "-"}
for kind, better in (("deletion", -1), ("insertion", 1)):
    for b in BASE:
        wins = []
        for k in CORE:
            m, lo, hi = bootstrap.bootstrap_ci(better * (auc[kind][k] - auc[kind][b]))
            wins.append(round(lo, 3) > 0)
            print(f"{kind:<9s} {k:<22s} better than {b:<7s} by {m:>7.3f} [{lo:>6.3f}, {hi:>6.3f}]")
        print(f"  -> {sum(wins)} of {len(CORE)} core methods beat {b} on {kind} "
              f"(paired 95% interval above 0)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 猫这张照片上的曲线，以及曲线为什么会“回升”
#
# 下图是猫这张照片的曲线（缓存里的值，上面已现场核对过 AUC）。删除曲线会不会在删掉像素之后反而**上升**？插入曲线会不会一开始**下降**？
# 先看图，再看下面在全部照片上的计数。

# %% slideshow={"slide_type": "-"}
PLOT = CORE + ["random"]  # six lines per panel
curves = CACHE["photos"]["cat"]["curves"]
frac = np.linspace(0, 1, STEPS + 1)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), dpi=80, layout="constrained")
for k in PLOT:
    color, ls, marker = STYLE[k]
    for ax, kind in zip(axes, ("deletion", "insertion"), strict=True):
        ax.plot(frac, curves[k][kind], color=color, ls=ls, marker=marker, ms=4,
                label=f"{k}（{CACHE['photos']['cat']['auc'][k][kind]:.3f}）")
for ax, title in zip(axes, ("删除（AUC 越小越好）", "插入（AUC 越大越好）"), strict=True):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("改动的像素比例")
    ax.set_ylabel(f"p({CACHE['photos']['cat']['label']})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "-"}
# **为什么会回升？** 有两种可能。(a) softmax 概率 $p_y=e^{s_y}/\sum_c e^{s_c}$ 既取决于本类的 logit $s_y$，也取决于其他类：
# 如果别的类（比如另一种猫）的 logit 掉得比本类还快，$p_y$ 就会上升，而模型对本类的证据其实没有增加。
# (b) 换上底图之后的图像本身让模型更相信这个类别：这时本类的 logit 也上升。
# 测量：脚本同时记下了删除曲线上本类的 logit。对每一次“概率上升”，看同一步 logit 是否也上升：

# %% slideshow={"slide_type": "-"}
rise_p = rise_both = steps_total = 0
for p in PHOTOS:
    for k in MAIN:
        c = CACHE["photos"][p]["curves"][k]
        up_p, up_z = bootstrap.rises(c["deletion"], 1e-3), bootstrap.rises(c["deletion_logit"], 1e-3)
        rise_p += int(up_p.sum())
        rise_both += int((up_p & up_z).sum())
        steps_total += up_p.size
ins_first_drop = np.mean([CACHE["photos"][p]["curves"][k]["insertion"][1]
                          < CACHE["photos"][p]["curves"][k]["insertion"][0] for p in PHOTOS for k in MAIN])
share_others = (rise_p - rise_both) / max(rise_p, 1)
print(f"deletion steps where p rises: {rise_p} of {steps_total} ({rise_p / steps_total:.3f}); "
      f"in {rise_p - rise_both} of them ({share_others:.3f}) the class's own logit did not rise, "
      f"so the rise came from the other classes falling faster")
print("-> " + ("most rises of p are the softmax's doing, not more evidence for the class" if share_others > 0.5
               else "in most rises the class's own logit rose too: the changed image itself added evidence"))
print(f"insertion curves whose first step goes down: {ins_first_drop:.3f} of "
      f"{len(PHOTOS) * len(MAIN)} curves")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 为什么 Grad-CAM、XGrad-CAM、HiRes-CAM 是同一条线？
#
# EfficientNet-Lite0 的分类头是“全局平均池化 + 一个全连接层”：$s_y=\sum_k W^y_k\frac{1}{hw}\sum_{i,j}A^k_{ij}+b_y$，
# 所以 $\partial s_y/\partial A^k_{ij}=W^y_k/(hw)$ 在所有位置上相同。代入上面的表：Grad-CAM 的 $\alpha^y_k$ 是它的平均，还是它；
# XGrad-CAM 的加权平均，也还是它；HiRes-CAM 逐位置相乘，得到 $\sum_k\frac{W^y_k}{hw}A^k$——三者都是 CAM 除以常数 $hw$。
# 测量：在猫的照片上算这三张图；再在玩具世界的 `vgg` 网络（展平 + 全连接，梯度随位置变化）上比较。

# %% slideshow={"slide_type": "-"}
three = {"grad_cam": cat_maps["grad_cam"]} | {k: one_map(k, model, layer, cat_x, cat_c, {})[0]
                                              for k in ("xgrad_cam", "hires_cam")}
diff_photo = max(float(np.abs(three[k] - three["grad_cam"]).max()) for k in three)
toy_auc = CACHE["toy"]["auc"]
diff_toy = {k: float(np.mean(np.abs(np.array(toy_auc[k]["insertion"])
                                    - np.array(toy_auc["grad_cam"]["insertion"]))))
            for k in ("xgrad_cam", "hires_cam")}
print(f"EfficientNet-Lite0 (GAP head), cat: largest difference between the three normalized maps "
      + ("below 1e-5, float32 rounding" if diff_photo < 1e-5 else f"{diff_photo:.2e}"))
print(f"toy vgg net (flatten head), {S['toy']['n']} images: mean |insertion AUC - Grad-CAM's| "
      + ", ".join(f"{k} {v:.3f}" for k, v in diff_toy.items()))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 底图换了，结论还一样吗？
#
# 用灰色（或任何一种颜色）替换像素，被删掉的区域本身形成了新的边缘：模型可能对“形状”起反应，而不是对缺了什么起反应。
# 比较四种底图（都是删除曲线）：中灰色（输入空间的 0）、这张照片自己的平均颜色、模糊图，以及 ROAD（Rong 等 2022）的**带噪声的线性插补**：
# 每个被删的像素取它 8 个邻居的加权平均（直接相邻的权重是对角的两倍），解一个稀疏线性方程组，再加一点噪声；
# `helpers.trust.imputation` 的实现在单元测试里与 pytorch-grad-cam 的 `NoisyLinearImputer` 逐像素核对。

# %% slideshow={"slide_type": "-"}
road_live = imputation.imputed_deletion_curve(model, cat_x, cat_maps["grad_cam"], cat_c, steps=STEPS,
                                              noise=S["road_noise"]).auc
assert abs(road_live - CACHE["photos"]["cat"]["substrate"]["grad_cam"]["road"]) < 0.01
print(f"live ROAD deletion AUC (cat, Grad-CAM) {road_live:.3f} matches the cache")
SUBS = ("grey", "mean", "blur", "road")
sub = {s: {k: np.array([CACHE["photos"][p]["substrate"][k][s] for p in PHOTOS]) for k in MAIN}
       for s in SUBS}
print(f"{'deletion AUC ↓':<22s}" + "".join(f"{s:>10s}" for s in SUBS))
for k in MAIN:
    print(f"{k:<22s}" + "".join(f"{sub[s][k].mean():>10.3f}" for s in SUBS))
rank_random = {s: 1 + sorted(MAIN, key=lambda k, s=s: sub[s][k].mean()).index("random") for s in SUBS}
best = {s: min(MAIN, key=lambda k, s=s: sub[s][k].mean()) for s in SUBS}
print("rank of the random map (1 = best of", len(MAIN), "):",
      ", ".join(f"{s} {r}" for s, r in rank_random.items()))
print("best map per substrate:", ", ".join(f"{s} {b}" for s, b in best.items()))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 200 张玩具图
#
# 10 张照片只给出 10 个数，区间的宽度由照片之间的差别决定。玩具世界能给出多得多的图：`vgg` 网络上 200 张新图（训练时没见过），类别就是图上的图形；每张图一个 AUC，
# 底图用这张图自己的平均颜色、模糊图和 ROAD。下面先现场重算前 20 张图的一部分，与缓存核对。

# %% slideshow={"slide_type": "-"}
toy_cfg = S["toy"]
toy_net = shapes.load_net(toy_cfg["net"])
toy = shapes.make_batch(toy_cfg["n"], seed=toy_cfg["seed"], objects=1)
n_live = 20
tx, ty = toy.images[:n_live], toy.labels[:n_live, 0].tolist()
toy_live = {"grad_cam": one_map("grad_cam", toy_net, shapes.target_layer(toy_net), tx, ty, {}),
            "random": baseline_maps(tx)["random"]}
gap_toy = max(abs(faithfulness.deletion_curve(toy_net, tx[i:i + 1], m[i], ty[i], steps=STEPS,
                                              substrate="mean").auc - toy_auc[k]["deletion_mean"][i])
              for k, m in toy_live.items() for i in range(n_live))
assert gap_toy < AUC_TOL, gap_toy
print(f"live recomputation ({n_live} toy images, Grad-CAM and random, deletion with the mean colour) "
      f"matches the cache: largest difference {agreement(gap_toy, AUC_TOL)}")
TOYKINDS = ("deletion_mean", "deletion_blur", "deletion_road", "insertion")
print(f"{'map':<22s}" + "".join(f"{k:>24s}" for k in TOYKINDS))
toy_ci = {k: {kind: bootstrap.bootstrap_ci(toy_auc[k][kind]) for kind in TOYKINDS} for k in MAIN}
for k in MAIN:
    print(f"{k:<22s}" + "".join(f"{c[0]:>8.3f} [{c[1]:.3f}, {c[2]:.3f}]" for c in toy_ci[k].values()))
toy_best = {kind: min(MAIN, key=lambda k, kind=kind: toy_ci[k][kind][0]) if kind != "insertion"
            else max(MAIN, key=lambda k: toy_ci[k]["insertion"][0]) for kind in TOYKINDS}
print("best per column:", ", ".join(f"{kind} {b}" for kind, b in toy_best.items()))
print(f"intervals from {len(toy_auc['grad_cam']['insertion'])} toy images each; "
      f"photos: {len(PHOTOS)} images each")
toy_vs_random = {k: bootstrap.bootstrap_ci(np.array(toy_auc[k]["insertion"]) - toy_auc["random"]["insertion"])
                 for k in CORE}
print("toy insertion AUC minus the random map's, paired 95% interval: "
      + ", ".join(f"{k} {m:.3f} [{lo:.3f}, {hi:.3f}]" for k, (m, lo, hi) in toy_vs_random.items()))
print(f"-> below the random map on the toy vgg net: "
      f"{[k for k, v in toy_vs_random.items() if round(v[2], 3) < 0] or 'none'}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 与发表的数字并排（引用，不可直接比较）
#
# | 来源（引用） | 模型与数据 | 数字 |
# | --- | --- | --- |
# | torchcam 项目 README 的评测表（引用：frgfm/torch-cam 的 README，该项目 0.5 版时的表） | ResNet18，Imagenette 验证集，224×224 | Average Drop（乘上热力图后原类别概率的平均相对下降，越小越好）与 Increase（概率反而上升的图片比例）：Grad-CAM 0.2686、0.2250；Grad-CAM++ 0.5271、0.1962；Layer-CAM 0.1712、0.2819（引用：同上） |
# | RISE 论文（引用：Petsiuk 等 2018，BMVC） | ResNet50，ImageNet 验证集 | RISE 自己的删除 AUC 约 0.1、插入 AUC 在 0.7 以上（引用：同上，取整） |
#
# 它们不能与上面的数字直接比较：模型不同、图片不同（几千张对 10 张）、底图和步数不同（RISE 每步改 224 个像素，我们每步改十分之一），
# 而 AUC 还取决于模型对原图本来有多自信。放在这里，是为了知道文献里的量级，并记住读论文时先问：哪个模型、哪些图、什么底图。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 证据三：图指出模型用的东西了吗？
#
# 删除曲线问的是“图上排前面的像素重要吗”，但回答不了“模型到底用的是什么”。9.2.2 节的对照实验（实验 3）造了**用什么由构造决定**的网络：
# 每张玩具图的一角有一个 8×8 的棋盘格**标记**，颜色是类别编码。`marker_shape` 训练时标记的颜色随机，只能靠图形；
# `marker_hans` 训练时图形的类别随机，只能靠标记（“聪明的汉斯”式的捷径网络）。先用干预量出每个网络用什么（`reliance.reliance_table`），
# 再看图跟不跟着走：**模型对比**（model contrast）——同一批图，`marker_shape` 的图在图形上的能量应多于 `marker_hans` 的图，
# 后者在标记上的能量应多于前者；两者同时成立的图片比例记为 moved。
#
# **先预测**：Grad-CAM 的 moved 比例会超过一半吗？

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_grad_cam_moves() -> bool:
    """True: on more than half of the images Grad-CAM's maps move from shape to marker with the net."""
    return True


# %% slideshow={"slide_type": "subslide"}
mk = {k: variants.load_toy_net(k) for k in ("marker_shape", "marker_hans")}
world = markers.make_marker_batch(200, seed=7, agree=True)  # held-out; marker class = shape class
table = {k: reliance.reliance_table(n, world.images, world.shape_labels, world.shape_masks,
                                    world.marker_masks) for k, n in mk.items()}
used = {k: reliance.used_regions(t) for k, t in table.items()}
for k, t in table.items():
    print(f"{k:<13s} accuracy: original {t['original']['accuracy']:.3f}, no shape "
          f"{t['no shape']['accuracy']:.3f}, no marker {t['no marker']['accuracy']:.3f}, control "
          f"{t['control']['accuracy']:.3f} -> uses {' + '.join(used[k]) or 'neither'}")
N_WORLD = 24
xw, yw = world.images[:N_WORLD], world.shape_labels[:N_WORLD].tolist()
sm, mm = world.shape_masks[:N_WORLD], world.marker_masks[:N_WORLD]
wmaps = {k: {m: one_map(m, n, shapes.target_layer(n), xw, yw, S["toy_options"]) for m in CORE}
         for k, n in mk.items()}
contrast = {m: reliance.model_contrast(wmaps["marker_shape"][m], wmaps["marker_hans"][m], sm, mm)
            for m in CORE}
print(f"\nmodel contrast on {N_WORLD} images (baselines ignore the net: moved = 0 by construction)")
print(f"{'method':<22s} {'moved':>7s} {'shift shape':>12s} {'shift marker':>13s}")
for m, c in contrast.items():
    print(f"{m:<22s} {c['moved']:>7.3f} {c['shift_a']:>12.3f} {c['shift_b']:>13.3f}")
concepts.check_prediction("Grad-CAM 的 moved 比例超过一半吗", predict_grad_cam_moves,
                          contrast["grad_cam"]["moved"] > 0.5,
                          hint="两个网络结构相同，只是学到的东西不同：Grad-CAM 的梯度来自各自的分类头。")
follow = [m for m in CORE if contrast[m]["moved"] > 0.5]
print(f"{len(follow)} of {len(CORE)} core methods follow the net on more than half of the images: "
      f"{', '.join(follow) or 'none'}; lowest: {min(CORE, key=lambda m: contrast[m]['moved'])} "
      f"({min(c['moved'] for c in contrast.values()):.3f})")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 文本：注意力是解释吗？（缩短版）
#
# 9.3 节的 AttnGRU 分类器给每个词一个注意力权重 $a_t$。它与“删掉这个词，预测类别的概率掉多少”（留一法，leave-one-out）和
# “梯度 × 输入”（gradient × input）排出的词序一致吗？照 Jain 和 Wallace（2019）的做法，每句话算一个 Kendall $\tau_b$
# （只看排序：1 完全一致，0 无关，−1 相反），在 200 条测试评论上汇总；随机分数与留一法的 $\tau_b$ 是对照。

# %% slideshow={"slide_type": "-"}
docs = attn_trust.sample_test_reviews(200, min_words=5, max_words=60)  # jieba words
gru, vocab = textmodels.load_text_model("attn_gru")
items = attn_trust.gru_scores(gru, vocab, docs)  # per sentence: attention, loo, grad_input
gen = torch.Generator().manual_seed(0)
for it in items:
    it.scores["random"] = torch.rand(len(it.tokens), generator=gen)
tau_table = {}
print(f"{'Kendall tau-b, AttnGRU, ' + str(len(items)) + ' reviews':<34s} {'mean ± std':>15s} {'sig. frac':>9s}")
for a, b in (("attention", "loo"), ("attention", "grad_input"), ("loo", "grad_input"), ("random", "loo")):
    tau, p = attn_trust.correlate(items, a, b)
    s = tau_table[a, b] = rankcorr.summarize(tau, p)
    print(f"{a + ' vs ' + b:<34s} {s['mean']:>7.3f} ± {s['std']:.3f} {s['sig_frac']:>9.3f}")
att_loo, loo_gi = tau_table["attention", "loo"]["mean"], tau_table["loo", "grad_input"]["mean"]
print(f"attention agrees with leave-one-out "
      f"{'more' if att_loo > tau_table['random', 'loo']['mean'] else 'not more'} than random scores do; "
      f"the two scores that ask the model (leave-one-out, gradient x input) agree with each other "
      f"{'more' if loo_gi > att_loo else 'less'} than attention agrees with leave-one-out")

# %% [markdown] slideshow={"slide_type": "-"}
# 引用（不可直接比较）：Jain 和 Wallace（2019，“Attention is not Explanation”，NAACL）在英文 SST 上的 BiLSTM，注意力与留一法的 $\tau$ 约为 0.29（引用：该论文对 SST 的汇总，本课程未核对原表）。
# 模型、语言、分词和留一法的定义都不同，只能并排看。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 小结
#
# 教材 9.4 节“本章小结”列出本章内容三点：
#
# > - 特征图进行可视化
# > - 用类激活图（CAM）
# > - 面向 NLP 任务的可视化方法
#
# 下面每一条都由本笔记本算出的变量打印，对应到这三点；最后一行是整本笔记本的运行时间。

# %% slideshow={"slide_type": "-"}
gc_ins, sob_ins = ci["insertion"]["grad_cam"], ci["insertion"]["sobel"]
print("【用类激活图（CAM）】")
print(f"- Evidence 1 (depends on the model): with only the classifier random, Grad-CAM's mean ρ is "
      f"{np.nanmean(cascade['grad_cam'][:, 0]):.3f}, Guided Backprop's "
      f"{np.nanmean(cascade['guided_backprop'][:, 0]):.3f}; with all layers random Grad-CAM's is {rebound:.3f} "
      f"(lowest on the way {gc_path.min():.3f}), and its ρ with the Sobel edge map is {random_sobel:.3f} "
      f"(trained: {trained_sobel['grad_cam'].mean():.3f}).")
if shared:
    print(f"  On the {int(up.sum())} photos where the fully random net's Grad-CAM still has ρ > 0.2 with the "
          f"trained one, the shared part is {shared} (ρ with centre {c_up:.3f}, with Sobel {s_up:.3f}).")
print(f"- Evidence 2 (predicts the model's response), {len(PHOTOS)} photos: insertion AUC Grad-CAM "
      f"{gc_ins[0]:.3f} [{gc_ins[1]:.3f}, {gc_ins[2]:.3f}], Sobel {sob_ins[0]:.3f} "
      f"[{sob_ins[1]:.3f}, {sob_ins[2]:.3f}]; the random map ranks {rank_random['grey']} of {len(MAIN)} "
      f"on deletion with grey and {rank_random['road']} with ROAD"
      + (": the substrate changes the verdict." if rank_random["grey"] != rank_random["road"]
         else ": the same rank with both substrates."))
print(f"- {S['toy']['n']} toy images: best insertion {toy_best['insertion']} "
      f"({toy_ci[toy_best['insertion']]['insertion'][0]:.3f}), best ROAD deletion {toy_best['deletion_road']} "
      f"({toy_ci[toy_best['deletion_road']]['deletion_road'][0]:.3f}).")
print(f"- Evidence 3 (shows what the model uses): {len(follow)} of {len(CORE)} core methods move with the "
      f"net on more than half of the images (Grad-CAM {contrast['grad_cam']['moved']:.3f}).")
print("【特征图进行可视化】")
print(f"- ρ of a fully random network's map with the image's Sobel edges: Grad-CAM "
      f"{random_sobel:.3f} (trained {trained_sobel['grad_cam'].mean():.3f}), Guided Backprop "
      f"{np.nanmean(to_sobel['guided_backprop'][:, -1]):.3f} (trained {trained_sobel['guided_backprop'].mean():.3f})"
      + (": a picture with structure can come from the image, not from what the network learned."
         if more_edge else "."))
print("【面向 NLP 任务的可视化方法】")
print(f"- Attention vs leave-one-out: mean τ {tau_table['attention', 'loo']['mean']:.3f} "
      f"(random scores: {tau_table['random', 'loo']['mean']:.3f}).")
print(f"notebook computed in {time.perf_counter() - T0:.0f} s")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 附录：全部方法在 10 张照片上的 AUC
#
# 平均值与自助法 95% 区间（缓存，`scripts/make_trust_cache.py`；方法按登记表的名字列出，新登记的方法重跑脚本后会出现在这里）。

# %% slideshow={"slide_type": "-"}
print(f"{'method':<22s} {'deletion ↓ mean [95% CI]':>28s} {'insertion ↑ mean [95% CI]':>28s} "
      f"{'s / map':>8s}")
for k in sorted(ALL + BASE, key=lambda k: -ci["insertion"][k][0]):
    d, i = ci["deletion"][k], ci["insertion"][k]
    t = f"{sec[k]:>8.3f}" if k in sec else f"{'—':>8s}"
    print(f"{k:<22s} {d[0]:>10.3f} [{d[1]:.3f}, {d[2]:.3f}] {i[0]:>10.3f} [{i[1]:.3f}, {i[2]:.3f}] {t}")

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
    mine = deletion_auc(model, cat_x, torch.from_numpy(cat_maps["random"]), cat_c, 16)
    ref = faithfulness.deletion_curve(model, cat_x, cat_maps["random"], cat_c, steps=16).auc
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
    gc = one_map("grad_cam", nets["gap"], shapes.target_layer(nets["gap"]), single.images, labels, {})
    mine = np.mean([pointing_hit(gc[i], masks[i], 0) for i in range(len(gc))])
    print(f"Grad-CAM on the gap network: your hit rate {mine:.3f}, "
          f"localization {localization.pointing_game(gc, masks).mean():.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：先预测，再运行
#
# 在玩具世界的 `gap` 网络（卷积主干 + 全局平均池化 + 一个全连接层）上做级联模型随机化。**先别运行检查单元格**：
# 写出 `predict_sanity(method)`，对下面的四种方法，预测**只随机化全连接层（分类层）**之后，它的图与原图相比
# 是“变”（4 张图上平均的 Spearman ρ < 0.8）还是“不变”（ρ ≥ 0.8）。检查单元格随后才做这次随机化，把你的预测与实测对照。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_sanity(method: str) -> str:
    """Your prediction: "变" (changes) or "不变" (stays) once the classifier layer is random."""
    return "不变" if method == "guided_backprop" else "变"


# %% slideshow={"slide_type": "skip"}
SANITY = ("grad_cam", "saliency", "guided_backprop", "guided_grad_cam")
toy_gap = nets["gap"]
toy_layer_name = next(n for n, m in toy_gap.named_modules() if m is shapes.target_layer(toy_gap))
sx, sc = single.images[:4], single.labels[:4, 0].tolist()
toy_orig = {k: one_map(k, toy_gap, shapes.target_layer(toy_gap), sx, sc, {}) for k in SANITY}
toy_curves = {k: [] for k in SANITY}
for _, rnd in sanity.cascading_randomization(toy_gap, seed=0):
    for k in SANITY:
        ms = one_map(k, rnd, rnd.get_submodule(toy_layer_name), sx, sc, {})
        toy_curves[k].append(float(np.nanmean([sanity.spearman(a, b)
                                                for a, b in zip(toy_orig[k], ms, strict=True)])))
THRESHOLD = 0.8
print(f"threshold: mean ρ < {THRESHOLD} counts as 变 (changes)")
exercises.trust.check_sanity_prediction(predict_sanity, toy_curves, step=0, threshold=THRESHOLD)
for k, v in toy_curves.items():
    print(f"{k:<22s} Spearman after each step:", " ".join(f"{u:.3f}" for u in v))
