"""Deterministic generator of a synthetic news corpus shaped like the seed posts.

Usage: ``python bench/gen_corpus.py OUT_DIR N [--seed S] [--start-index I]``

Each article is a Chinese news post with an HTML body of 3 to 6 KB (UTF-8 bytes). About half
are Hexo-style and half Jekyll-style:

* Hexo: file names without a date, ``categories:`` as a YAML list (a hierarchy of 2 or 3
  levels, sometimes a list of two hierarchies), ``date: Mon, 20 Dec 2021 05:10:31 GMT``,
  ``author``, ``headimg``/``thumbnail``, the body wrapped in ``<div>``. Some files have a blank
  line before the opening ``---``, like seed 000.
* Jekyll: ``YYYY-MM-DD-slug.md`` file names, ``date: 2022-02-17 19:34:59 +0800``,
  ``categories:`` as a pinyin string (sometimes two, separated by a space), ``tags:`` as a
  string or a list, and a Markdown footer with an autolink and protocol-relative links.

There are 20 categories (10 Hexo hierarchies and 10 Jekyll pinyin names) and 200 tags. Dates
fall in the 3 years before 2026-11-01 (Asia/Shanghai). About 60% of articles have a lead
image. All image URLs are on ``img.example.com``, a reserved host that is never contacted.

Output is reproducible. Article ``i`` uses its own ``random.Random`` seeded from ``(seed, i)``,
so ``generate(d, 50)`` and then ``generate(d, 10, start_index=50)`` give the same files as
``generate(d, 60)``. File names and bodies include the index, so no two files are the same.
Uses only the standard library.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

CST = timezone(timedelta(hours=8))
END = datetime(2026, 11, 1, tzinfo=CST)
START = datetime(2023, 11, 1, tzinfo=CST)
SPAN_S = int((END - START).total_seconds())

MIN_BODY = 3 * 1024
MAX_BODY = 6 * 1024

# 20 category names: 10 Chinese names arranged in 10 Hexo hierarchies of 2-3 levels, and 10
# Jekyll pinyin strings (each mapped to the Chinese name used in the body's back link).
HEXO_CATEGORIES: tuple[tuple[str, ...], ...] = (
    ("新媒体", "趣头条", "电网"),
    ("新媒体", "趣头条", "能源"),
    ("新媒体", "资讯", "城市"),
    ("新媒体", "资讯", "交通"),
    ("电网", "配电网"),
    ("电网", "储能"),
    ("能源", "新能源"),
    ("能源", "新能源", "储能"),
    ("城市", "交通"),
    ("城市", "配电网"),
)
JEKYLL_CATEGORIES: dict[str, str] = {
    "dianwang": "电网", "nengyuan": "能源", "chengshi": "城市", "xinnengyuan": "新能源",
    "chuneng": "储能", "jiaotong": "交通", "huanbao": "环保", "keji": "科技",
    "shichang": "市场", "xiangcun": "乡村",
}
CATEGORY_NAMES: frozenset[str] = frozenset(c for h in HEXO_CATEGORIES for c in h) | frozenset(JEKYLL_CATEGORIES)
assert len(CATEGORY_NAMES) == 20

# Topics double as tag stems: 20 topics x 10 suffixes = 200 distinct tags.
TOPICS: tuple[tuple[str, str], ...] = (
    ("特高压", "uhv"), ("配电网", "distribution"), ("新能源", "renewables"),
    ("光伏", "solar"), ("风电", "wind"), ("储能", "storage"), ("充电桩", "charging"),
    ("氢能", "hydrogen"), ("抽水蓄能", "pumped-storage"), ("虚拟电厂", "virtual-plant"),
    ("需求响应", "demand-response"), ("电力市场", "power-market"),
    ("乡村振兴", "rural-grid"), ("营商环境", "business-service"),
    ("迎峰度夏", "summer-peak"), ("迎峰度冬", "winter-peak"), ("应急抢修", "emergency-repair"),
    ("智能运检", "smart-inspection"), ("数字电网", "digital-grid"), ("碳中和", "carbon-neutral"),
)
TAG_SUFFIXES: tuple[str, ...] = ("", "建设", "政策", "项目", "服务", "技术", "试点", "动态", "观察", "新闻")
TAGS: tuple[str, ...] = tuple(t + s for t, _ in TOPICS for s in TAG_SUFFIXES)
assert len(set(TAGS)) == 200

CITIES: tuple[tuple[str, str], ...] = (
    ("株洲", "zhuzhou"), ("天津", "tianjin"), ("西安", "xian"), ("成都", "chengdu"),
    ("武汉", "wuhan"), ("长沙", "changsha"), ("合肥", "hefei"), ("南昌", "nanchang"),
    ("济南", "jinan"), ("青岛", "qingdao"), ("郑州", "zhengzhou"), ("太原", "taiyuan"),
    ("石家庄", "shijiazhuang"), ("沈阳", "shenyang"), ("长春", "changchun"),
    ("哈尔滨", "harbin"), ("南京", "nanjing"), ("苏州", "suzhou"), ("杭州", "hangzhou"),
    ("宁波", "ningbo"), ("福州", "fuzhou"), ("厦门", "xiamen"), ("南宁", "nanning"),
    ("贵阳", "guiyang"), ("昆明", "kunming"), ("兰州", "lanzhou"), ("西宁", "xining"),
    ("银川", "yinchuan"), ("呼和浩特", "hohhot"), ("乌鲁木齐", "urumqi"),
)
DISTRICTS: tuple[str, ...] = ("", "", "高新区", "经开区", "新区", "东部片区", "南部山区", "临港片区")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志远文博宇航晨曦"
ROLES: tuple[str, ...] = ("副市长", "副县长", "发改委副主任", "供电公司总经理", "供电公司副总经理", "项目负责人")
HEXO_AUTHORS: tuple[str, ...] = ("趣头条", "ZAKER", "电网要闻", "能源观察", "城市日报")
MEDIA: tuple[str, ...] = ("示例新闻网", "城市晚报", "能源时报", "电网快讯", "示例县融媒体中心")
SEASONS: tuple[str, ...] = ("迎峰度夏", "迎峰度冬", "春节", "汛期", "国庆长假")
QUOTES: tuple[str, ...] = (
    "以前一到用电高峰，电压就不稳，现在设备再多也不怕了",
    "从提交申请到通电只用了三天，比我们预想的快得多",
    "项目投运后，园区每年的用电成本能降低一成左右",
    "我们把服务往前延伸了一步，企业还没开口，方案就已经准备好了",
    "这次改造把老旧线路全部换掉，安全隐患也一并消除了",
)
PROBLEMS: tuple[str, ...] = ("电压偏低", "线路老化", "报装周期长", "容量不够", "夜间停电")
CAPTIONS: tuple[str, ...] = (
    "施工现场", "工作人员检查设备运行情况", "新投运的配电台区", "签约仪式现场",
    "抢修队员在现场作业", "项目全景", "调度中心大屏", "座谈会现场",
)

SENTENCES: tuple[str, ...] = (
    "{month}月{day}日，{company}在{place}召开{topic}工作推进会，部署下一阶段的重点任务。",
    "今年以来，{company}累计完成电网投资{n1}亿元，新建和改造10千伏线路{n2}公里。",
    "据介绍，项目总投资约{n1}亿元，建成后每年可减少二氧化碳排放{n3}万吨。",
    "“{quote}。”{person}介绍说。",
    "{person}表示，将持续做好{topic}各项工作，为地方经济社会发展提供坚强的电力保障。",
    "截至{month}月底，{place}已建成{topic}项目{n2}个，覆盖用户{n3}万户。",
    "为保障工程顺利推进，项目部组织{n2}名施工人员分成{n4}个小组，实行“日碰头、周通报”的管理机制。",
    "改造完成后，{place}供电可靠率提升至99.{n5}%，户均停电时间同比下降{pct}%。",
    "在{topic}方面，{company}与{n4}家企业签订合作协议，共同推动新技术在本地落地应用。",
    "针对{season}期间的用电高峰，供电部门提前开展设备巡视，累计排查并消除隐患{n2}处。",
    "{place}{role}{person}在会上要求，各部门要加强协同配合，确保项目早开工、早建成、早见效。",
    "数据显示，{month}月份全市全社会用电量同比增长{pct}%，其中第三产业和居民生活用电增长较快。",
    "下一步，{company}将围绕{topic}重点任务，加快推进配套电网建设，进一步优化办电服务流程。",
    "该项目是{city}今年的重点民生工程之一，受到沿线居民和企业的广泛关注。",
    "记者在现场看到，工作人员正在对新安装的设备进行调试，各项指标运行正常。",
    "据了解，{place}现有{topic}相关用户{n3}万户，较去年同期增长{pct}%。",
    "为提升服务水平，供电营业厅推出线上办电、预约上门等{n4}项便民措施，居民办电平均时长缩短至{n4}个工作日。",
    "业内人士认为，{topic}的推广应用将有效提高清洁能源消纳能力，助力实现“双碳”目标。",
    "{person}说，过去企业最头疼的是{problem}，现在问题解决了，生产经营更有底气。",
    "当天，{n4}支抢修队伍、{n2}名队员在{place}开展联合演练，检验极端天气下的应急处置能力。",
    "项目采用了无人机巡检、带电作业等新技术，施工期间未对周边用户造成停电影响。",
    "按照计划，{place}将在{year}年底前完成{n2}个台区的智能化改造。",
    "{company}相关负责人介绍，{topic}是今年电网建设的重点，相关工程已列入全市重点项目清单。",
    "会上，双方就{topic}、电网规划和供电服务等议题进行了深入交流。",
    "为减少施工对居民生活的影响，停电检修集中安排在夜间和凌晨用电低谷时段进行。",
    "{person}告诉记者，新线路投运后，村里的加工厂可以同时开动{n4}台设备，产量比去年提高了{pct}%。",
    "此外，{company}还组建了{n4}支党员服务队，深入社区、企业和学校开展安全用电宣传。",
    "据测算，项目全部建成后，{city}电网的最大供电能力将提升{n3}万千瓦。",
    "今年{month}月，{place}被列为省级{topic}试点地区，成为全省首批{n4}个试点之一。",
    "在营业厅内，{person}通过手机完成了新装申请，整个过程不到{n4}分钟。",
    "目前，{topic}相关设备已全部接入调度自动化系统，运行数据可实时上传至监控平台。",
    "工程建设期间，参建单位严格落实安全管控措施，实现了零事故、零伤害。",
)
TITLES: tuple[str, ...] = (
    "{place}{topic}工程全面完工 {n2}个村庄告别“低电压”",
    "{company}发布{year}年{topic}服务举措 推出{n4}项新措施",
    "{city}首个{topic}示范项目投入运行 总投资{n1}亿元",
    "{place}与{company}签订{topic}合作协议 {n4}个项目落地",
    "{season}期间{city}电网负荷创历史新高 {topic}削峰{n3}万千瓦",
    "{city}{topic}建设提速 今年计划投资{n1}亿元",
    "{place}开展{topic}应急演练 {n4}支队伍参加",
    "{company}：{topic}用户突破{n3}万户",
    "{city}出台{topic}支持政策 {n4}项措施助企发展",
    "{place}{n2}个{topic}项目集中开工",
)


class _Article:
    """Random facts shared by one article's title and body."""

    def __init__(self, rng: random.Random, when: datetime) -> None:
        self.rng = rng
        city, self.city_py = rng.choice(CITIES)
        self.city = city
        self.place = city + rng.choice(DISTRICTS)
        self.company = f"国网{city}供电公司"
        self.topic_index = rng.randrange(len(TOPICS))
        self.topic, self.topic_slug = TOPICS[self.topic_index]
        self.when = when

    def person(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.randint(1, 2)))

    def fill(self, template: str) -> str:
        rnd = self.rng.random
        slots: dict[str, object] = {}
        for name in _FIELDS[template]:
            if name in slots:
                continue
            if name in _RANGES:
                lo, hi = _RANGES[name]
                slots[name] = lo + int(rnd() * (hi - lo + 1))
            elif name in _CHOICES:
                seq = _CHOICES[name]
                slots[name] = seq[int(rnd() * len(seq))]
            elif name == "person":
                slots[name] = self.person()
            elif name == "year":
                slots[name] = self.when.year + int(rnd() * 2)
            else:
                slots[name] = getattr(self, name)
        return template.format_map(slots)


# Slot values: ranges of whole numbers and lists to pick from; other names are _Article attributes.
_RANGES: dict[str, tuple[int, int]] = {
    "month": (1, 12), "day": (1, 28), "n1": (2, 90), "n2": (12, 480), "n3": (2, 60),
    "n4": (3, 12), "n5": (80, 99), "pct": (3, 35),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "season": SEASONS, "role": ROLES, "quote": QUOTES, "problem": PROBLEMS,
}
_FIELDS: dict[str, tuple[str, ...]] = {
    t: tuple(f for _, f, _, _ in string.Formatter().parse(t) if f) for t in SENTENCES + TITLES
}


def _image_url(rng: random.Random, when: datetime) -> str:
    return f"https://img.example.com/qupost/img/{when:%Y/%m/%d}/{rng.getrandbits(128):032x}.jpeg"


def _body_paragraphs(a: _Article, target: int, images: list[str], hexo: bool) -> list[str]:
    """HTML chunks (paragraphs, images, captions) whose UTF-8 size just reaches ``target``."""
    r = a.rng
    chunks: list[str] = []
    size = 0
    pending = list(images)
    deck: list[str] = []
    while size < target:
        sentences: list[str] = []
        for _ in range(r.randint(3, 6)):
            if not deck:  # deal every sentence template once before reusing any
                deck = list(SENTENCES)
                r.shuffle(deck)
            s = a.fill(deck.pop())
            sentences.append(s)
            size += len(s.encode())
            if size >= target:
                break
        text = "".join(sentences)
        chunk = f"<p> {text}</p>" if hexo else f"<p>{text}</p>"
        chunks.append(chunk)
        size += 8
        if pending and r.random() < 0.5:
            src = pending.pop(0)
            fig = (f'<p><img src="{src}" data-size="800,{r.choice((480, 533, 559, 593))}" '
                   f'referrerpolicy="no-referrer"></p><p>▲{r.choice(CAPTIONS)}</p>')
            chunks.append(fig)
            size += len(fig.encode())
    return chunks


def _yaml_single(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _yaml_double(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render(index: int, seed: int) -> tuple[str, str]:
    """Return (file name, file text) of article ``index``."""
    rng = random.Random(f"newsbot-corpus:{seed}:{index}")
    when = START + timedelta(seconds=rng.randrange(SPAN_S))
    a = _Article(rng, when)
    title = a.fill(rng.choice(TITLES))
    hexo = rng.random() < 0.5
    has_image = rng.random() < 0.6
    code = f"NB{seed:04d}{index:08d}"
    images = [_image_url(rng, when) for _ in range(rng.randint(1, 3))] if has_image else []

    # Tags: usually start with one derived from the article's topic.
    n_tags = rng.choice((0, 1, 1, 2, 2, 3, 4))
    tags: list[str] = []
    if n_tags:
        tags.append(TAGS[a.topic_index * len(TAG_SUFFIXES) + rng.randrange(len(TAG_SUFFIXES))])
        while len(tags) < n_tags:
            t = rng.choice(TAGS)
            if t not in tags:
                tags.append(t)

    # Body: a fixed footer plus paragraphs up to a random target size.
    media = rng.choice(MEDIA)
    target = rng.randint(3400, 5500)

    if hexo:
        head = "<div>   \n"
        foot = (f"<p>【来源：{media}】</p><p>稿件编号：{code}</p>"
                "<p>版权归原作者所有，向原创者致敬</p>  \n</div>\n            \n")
        chunks = _body_paragraphs(a, target - len((head + foot).encode()), images, hexo=True)
        body = head + "".join(chunks) + foot
        fm: list[str] = []
        if rng.random() < 0.2:
            fm.append("")  # blank line before the opening ---, as in seed 000
        fm.append("---")
        fm.append(f"title: {_yaml_single(title)}")
        if rng.random() < 0.07:
            picks = rng.sample(HEXO_CATEGORIES, 2)
            fm.append("categories:")
            fm.extend(f"  - [{', '.join(p)}]" for p in picks)
        else:
            fm.append("categories: ")
            fm.extend(f" - {c}" for c in rng.choice(HEXO_CATEGORIES))
        if tags:
            fm.append("tags:")
            fm.extend(f" - {t}" for t in tags)
        lead = images[0] if images else ""
        style = rng.randrange(3)  # 0: both keys, 1: headimg only, 2: thumbnail only
        if lead and style in (0, 1):
            fm.append(f"headimg: {_yaml_single(lead)}")
        fm.append(f"author: {rng.choice(HEXO_AUTHORS)}")
        fm.append("comments: false")
        fm.append(f"date: {format_datetime(when.astimezone(timezone.utc), usegmt=True)}")
        if lead and style in (0, 2):
            fm.append(f"thumbnail: {_yaml_single(lead)}")
        fm.append("---")
        name = f"{a.city_py}-{a.topic_slug}-{index:06d}.md"
        return name, "\n".join(fm) + "\n\n" + body

    # Jekyll
    cats = rng.sample(sorted(JEKYLL_CATEGORIES), 2 if rng.random() < 0.1 else 1)
    foot = (f'<p class="em_media">（文章来源：{media}）</p>\n\n'
            f"<http://finews.example.com/html_News/NewsShare.html?infoCode={code}>\n\n"
            f"[返回{JEKYLL_CATEGORIES[cats[0]]}新闻](//news.example.org/category/{cats[0]}.html)"
            "｜[返回首页](//news.example.org/)")
    chunks = _body_paragraphs(a, target - len(foot.encode()), images, hexo=False)
    # Break the paragraph run into lines now and then, like the seed's " <p>" lines.
    body = "".join(c if i == 0 or rng.random() < 0.7 else "\n " + c for i, c in enumerate(chunks))
    body = body + foot
    local = when.astimezone(CST)
    fm = ["---", "layout: post", f"title: {_yaml_double(title)}",
          f"date: {local:%Y-%m-%d %H:%M:%S} +0800", f"categories: {' '.join(cats)}"]
    if tags:
        r = rng.random()
        if len(tags) == 1 and r < 0.7:
            fm.append(f"tags: {tags[0]}")
        elif r < 0.5:
            fm.append(f"tags: [{', '.join(tags)}]")
        else:
            fm.append("tags:")
            fm.extend(f"  - {t}" for t in tags)
    if images:
        fm.append(f"image: {images[0]}")
    fm.append("---")
    name = f"{local:%Y-%m-%d}-{a.city_py}-{a.topic_slug}-{index:06d}.md"
    return name, "\n".join(fm) + "\n" + body + "\n"


def generate(out_dir: Path, n: int, seed: int = 1, start_index: int = 0) -> list[Path]:
    """Write articles ``start_index`` .. ``start_index + n - 1`` into ``out_dir``; return their paths.

    The same (seed, index) always gives the same file name and bytes, so a caller can append
    new unique articles to an existing corpus by passing the next ``start_index``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for index in range(start_index, start_index + n):
        name, text = _render(index, seed)
        path = out_dir / name
        path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic Hexo/Jekyll news corpus.")
    parser.add_argument("out_dir", type=Path, help="output folder (created if missing)")
    parser.add_argument("n", type=int, help="number of articles to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--start-index", type=int, default=0,
                        help="index of the first article, to append to an existing corpus")
    args = parser.parse_args(argv)
    if args.n < 0 or args.start_index < 0:
        parser.error("N and --start-index must not be negative")
    t0 = time.perf_counter()
    paths = generate(args.out_dir, args.n, seed=args.seed, start_index=args.start_index)
    print(f"wrote {len(paths)} articles to {args.out_dir} in {time.perf_counter() - t0:.2f}s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
