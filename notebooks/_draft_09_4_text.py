# ---
# jupyter:
#   jupytext:
#     formats: py:percent
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

# %% [markdown] slideshow={"slide_type": "skip"}
# DRAFT of the text section of notebooks/09_4_trust (helper "texttrust"); helper "metrics"
# pastes the cells below the imports cell into the notebook. The imports cell repeats what
# the section needs, so that this file runs on its own:
# `.venv/bin/python notebooks/_draft_09_4_text.py` (about 20 s on a 2-core CPU).

# %% slideshow={"slide_type": "skip"}
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
import transformers

import helpers
from helpers import attn_trust, rankcorr, textmodels

helpers.setup()
transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in the outputs

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 文本：注意力是解释吗？
#
# 9.3 节把 AttnGRU 分类器的注意力权重画成了红色的深浅，并用一个删词实验看到：删掉注意力最大的词，
# 比删掉随机的词影响大得多，但“删掉后影响最大的词”常常**不是**注意力最大的那个。
# 这里把这个问题问得更严格，照 Jain 和 Wallace（2019，“Attention is not Explanation”）的做法：
# 对测试集里的评论，用三种办法给每个词打一个“重要性”分数，再看三种排序彼此一致到什么程度。
# 为了在 CPU 上几秒内算完，取测试集里前 200 条 5～60 个词的评论（测试集中约 3/4 的评论在这个长度范围内；
# 留一法每个词要多算一次前向传播）。
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

# %% [markdown] slideshow={"slide_type": "-"}
# 读这张表和这张图：
#
# - 注意力与留一法是**正**相关的，明显好于随机对照，但远不是 1：平均 τ 约 0.25，只有不到一半的句子达到“显著”；
# - 注意力与梯度 × 输入（带符号）更弱；留一法与梯度 × 输入这两个“问模型本身”的度量彼此一致得多；
# - 数量级与 Jain 和 Wallace 在英文 SST 上的 BiLSTM 相近。但模型、语料、语言、分词都不同，他们求梯度时还把注意力从计算图上断开（这里没有），
#   这个数只能并排看，不能直接比较；
# - 结论与 9.3 节一致：注意力是一条线索，不是解释；要说“模型因为这个词才这样判断”，需要干预式的检验（删词）来支持。

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
# 与留一法（删词后预测类别的概率下降）比较，用 Spearman 秩相关系数（Spearman's ρ：两组分数的名次之间的相关系数）。

# %% slideshow={"slide_type": "subslide"}
tiny, tiny_vocab = textmodels.load_text_model("transformer")
t_items = attn_trust.transformer_scores(tiny, tiny_vocab, docs)  # the same 200 reviews
print(f"{'Spearman vs leave-one-out':<34s} {'mean ± std':>15s} {'median':>7s} {'[q1, q3]':>16s}")
for name in ("raw", "rollout"):
    rho, _ = attn_trust.correlate(t_items, name, "loo", method="spearman")
    s = rankcorr.summarize(rho)
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
# 两个模型给出的答案并不一样，这正是要亲手量的原因：展开（rollout）把残差算了进去，在小 Transformer 上与留一法略一致一些，
# 但两者都只是弱相关；在 MiniLM 上，最后一层的原始注意力反而比 rollout 更接近留一法（rollout 每层都加了单位矩阵，
# 6 层下来各词元的分数变得很平）。**哪种注意力更“可信”没有通用答案**：要拿干预式的度量去检验，而且检验的结论取决于模型和度量本身。
