"""OneCMS-like article pages of every variant of the anatomy reference, built from plain data.

Used by the demo site and by the tests: the page is HTML written the way OneCMS writes it, traps
included (US-format meta date, a fake ``Z``, captions in tables nested in ``<p>``, lazy images, an
in-body related box, a footer that reuses ``b-maincontent``); the extractor must read it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape as e

# Each variant imitates real markup described in shared/reference/onecms-anatomy.md (section cited
# where the variant is rendered, in render() and its helpers):
#   current             §3.1 skeleton (P1/P2), §3.3 image shapes, §14 "Normal (current)"
#   older               §5 "Normal article, older c-detail-head template", §14 "Normal (older)"
#   longform            §5 "Longform / e-magazine", §14 "Longform"
#   video               §5 "Video", §14 "Video"
#   podcast             §5 "Podcast", §14 "Podcast"
#   syndicated          §3.1 div.c-author-page, §5 "Syndicated"
#   photo               §5 "Photo story" (a photo section; menus only: no specific markup known)
#   syndicated-widget   §5 "Syndicated" as real-pages/nguoiquansat.vn__110172.html prints it: the source
#                       line beside a share popup ("Link bài gốc" label, #url-copy), plus copy-link button
#                       and notice ("Copy Link", "Link đã được copy")
#   emagazine-byline    §5 "Longform / e-magazine" in an /emagazine section, credited only by a bold last
#                       paragraph (the header author span empty; JSON-LD author = the site's name, §3.2)
#   gallery             §3.3 "figure > img + figcaption", with several images in one figure
VARIANTS = ("current", "older", "longform", "video", "podcast", "syndicated", "photo",
            "syndicated-widget", "emagazine-byline", "gallery")


@dataclass
class DemoArticle:
    """An article as data; ``render`` writes its page and ``expected`` the record it must yield."""

    base: str  # "https://demo.example/" or "http://127.0.0.1:8123/"
    id: int
    slug: str
    title: str
    sapo: str
    published: datetime  # aware, +07:00
    section: tuple[tuple[str, str], ...]  # ((name, path), …) from the top
    paragraphs: list[str]
    byline: str = ""
    dateline: str | None = None
    tags: list[str] = field(default_factory=list)
    images: list[tuple[str, str | None]] = field(default_factory=list)  # (src, caption)
    variant: str = "current"
    source: str | None = None
    jsonld: bool = True
    # other articles linked from this one (related box, ">>" line); fake addresses by default
    related: list[tuple[str, str]] = field(default_factory=list)
    menu: list[tuple[str, str]] = field(default_factory=list)  # the site menu: (name, path)
    authors: list[str] | None = None  # the people the byline credits (ground truth for tests)
    # the demo media host (DemoMediaHost) when one is served: og:image, audio and posters come from it
    media_base: str = ""

    @property
    def url(self) -> str:
        return f"{self.base}{self.slug}-{self.id}.html"


def _us(dt: datetime) -> str:
    hour = dt.hour % 12 or 12
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d}:{dt.second:02d} {'PM' if dt.hour >= 12 else 'AM'}"


def _body(a: DemoArticle, figure_captions: bool = False) -> str:
    """Paragraphs with the images spread between them: the first in a ``table.full-img`` nested in
    a ``<p>`` (lazy ``data-src``), the others in figures; a related box and a ``>>`` line inside
    (anatomy §3.3). ``gallery``: every image in one figure under one figcaption, after the first
    paragraph (§3.3 figure shape, several images)."""
    out: list[str] = []
    images = list(a.images)
    if a.variant == "gallery" and images:
        imgs = "".join(f'<img src="{e(src)}" alt="">' for src, _ in images)
        cap = images[0][1]
        figcap = f"<figcaption> {e(cap)} </figcaption>" if cap else ""
        gallery = f'<figure class="image gallery">{imgs}{figcap}</figure>'
        images = []
    else:
        gallery = ""
    for i, para in enumerate(a.paragraphs):
        out.append(f"<p>{e(para)}</p>")
        if i == 0 and gallery:
            out.append(gallery)
        if i == 0 and images and not figure_captions:
            src, cap = images.pop(0)
            caption = f'<tr><td class="image_desc"> {e(cap)} </td></tr>' if cap else ""
            out[-1] = (f'<p>{e(para)}</p><p><table class="full-img"><tbody><tr><td><img class="lazy" '
                       f'src="{a.base}assets/images/grey.gif" data-src="{e(src)}" alt=""></td></tr>{caption}'
                       "</tbody></table>")
            out.append("</p>")
        elif i == 1:
            related = a.related or [(f"{a.base}tin-lien-quan-{a.id + 100000}.html", "Một bài liên quan khác"),
                                    (f"{a.base}doc-them-{a.id + 200000}.html", "Đọc thêm bài cũ")]
            (rel_url, rel_title), (more_url, more_title) = related[0], related[-1]
            out.append(
                '<div class="c-box onecms_related"><div class="c-box__title"><h3 class="c-box__title__name">'
                f'Bài liên quan</h3></div><ul><li><a href="{e(rel_url)}">'
                f'<img src="{a.base}thumbs/540x360/related.jpg">{e(rel_title)}</a></li></ul></div>'
            )
            out.append(f'<p>&gt;&gt; <a href="{e(more_url)}">{e(more_title)}</a></p>')
        elif images and i >= 1:
            src, cap = images.pop(0)
            figcap = f"<figcaption>  {e(cap)}  </figcaption>" if cap else ""
            out.append(f'<figure class="image"><img src="{e(src)}" alt="">{figcap}</figure>')
    for src, cap in images:
        figcap = f"<figcaption>{e(cap)}</figcaption>" if cap else ""
        out.append(f'<figure class="image"><img src="{e(src)}" alt="">{figcap}</figure>')
    out.append('<div class="oneads" id="zone-61"><script>try { x.show(); } catch (e) { }</script></div>')
    if a.byline and a.variant == "emagazine-byline":  # §5 e-magazine: credits only in a bold last paragraph
        out.append(f'<p style="text-align:right"><strong>{e(a.byline)}</strong></p>')
    elif a.byline:
        out.append(f'<b class="vtranslate-author-translate" style="text-align:right; display:block">{e(a.byline)}</b>')
    return "\n".join(out)


def _sapo_text(a: DemoArticle) -> str:
    return f"{a.dateline} - {a.sapo}" if a.dateline else a.sapo


def _og_image(a: DemoArticle) -> str:
    """With a media host: the lead image at the CDN's thumbnail address (the same bytes, another URL)."""
    if not a.media_base or not a.images or not a.images[0][0].startswith(a.media_base):
        return ""
    return f'<meta property="og:image" content="{a.media_base}thumbs/1200x630/{a.images[0][0][len(a.media_base):]}" />'


def _head(a: DemoArticle) -> str:
    leaf_name, leaf_path = a.section[-1]
    ld = ""
    if a.jsonld:
        article = {
            "@context": "https://schema.org", "@type": "NewsArticle", "headline": a.title,
            "description": _sapo_text(a), "datePublished": a.published.isoformat(),
            "dateModified": a.published.isoformat(),
            "author": {"@type": "Person",
                       "name": "Báo Demo" if not a.byline or a.variant == "emagazine-byline" else a.byline},
            "publisher": {"@type": "Organization", "name": "Báo Demo"},
            "mainEntityOfPage": {"@type": "WebPage", "@id": a.url},
        }
        crumbs = {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": i + 1, "item": {"@id": a.base + p.lstrip("/"), "name": n}}
            for i, (n, p) in enumerate(a.section)]}
        ld = "".join(f'<script type="application/ld+json">{json.dumps(o, ensure_ascii=True)}</script>\n'
                     for o in (article, crumbs))
    return f"""<head>
<title>{e(a.title)}</title>
<meta charset="utf-8" />
<meta name="author" content="Báo Demo" />
<meta name="keywords" content="{e(', '.join(a.tags))}" />
<meta name="description" content="{e(_sapo_text(a))}" />
<link rel="canonical" href="{a.url}" />
<meta property="og:title" content="{e(a.title)}" />
<meta property="og:url" content="{a.url}" />
<meta property="og:type" content="website" />
<meta property="og:site_name" content="Báo Demo" />
{_og_image(a)}
<meta name="article:section" content="{e(leaf_name)}" />
<meta name="article:published_time" content="{_us(a.published)}" />
<meta property="channel:url" content="{a.base}{leaf_path.lstrip('/')}">
<link href="https://demo.1cdn.vn/assets/css/style.min.css" rel="stylesheet" />
{ld}</head>"""


def menu_html(base: str, menu: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="{base}{p.lstrip("/")}">{e(n)}</a></li>' for n, p in menu)
    return f'<ul class="c-menu">{items}<li><a href="{base}an-pham">Ấn phẩm</a></li></ul>'


def _chrome_top(a: DemoArticle) -> str:
    return f"""<div class="c-container-wrapper"><div class="l-nav">
<div class="c-sologan onecms__currentTime">Thứ Năm, 26/11/2026</div>
<div class="c-weather onecms__weather" data-city="hanoi">Hà Nội 21°C</div>{menu_html(a.base, a.menu) if a.menu else ""}</div></div>"""


def _chrome_bottom(a: DemoArticle) -> str:
    tags = "".join(
        f'<li><h4><a href="{a.base}{t.lower().replace(" ", "-")}-ptag.html" title="{e(t)}">{e(t)}</a></h4></li>'
        for t in a.tags
    )
    tagbox = f'<div class="c-box"><div class="c-widget-tags onecms__tags"><ul>{tags}</ul></div></div>' if tags else ""
    return f"""<div class="c-box"><div class="c-share-detail"><ul><li><a href="#">Chia sẻ Facebook</a></li>
<li><a class="onecms__popup" href="{a.base}print/{a.id}.html">In</a></li></ul></div></div>
<div class="c-comments"><div class="c-comment-bar"><div class="c-comment-bar__count">(0) Bình luận</div></div>
<div class="c-comment-input onecms__comments"><button class="btnSend">Gửi bình luận</button></div></div>
{tagbox}
<div class="c-box c-news-topmore"><div class="c-box__title">Đọc tiếp</div></div>"""


def _footer(a: DemoArticle) -> str:
    return """<div class="l-sidebar"><div class="c-box c-news-topread"><div class="c-box__title">Đọc nhiều</div></div></div>
<div class="l-footer"><div class="c-footer-main"><div class="b-maincontent"><p>Giấy phép số 99/GP-BTTTT. Tòa soạn báo Demo.</p></div></div>
<div class="c-powered">POWERED BY <a href="https://onecms.vn/"><span>ONE</span>CMS</a> - A PRODUCT OF <span>NEKO</span></div></div>"""


def _script(a: DemoArticle) -> str:
    fake_z = a.published.strftime("%Y-%m-%dT%H:%M:%SZ")  # local time mislabelled Z, as OneCMS does
    return f"""<script>
var WebControl = WebControl || {{}};
WebControl.publisherId = '{a.id}';
WebControl.item_id = {a.id};
WebControl.item_published_time = "{fake_z}";
WebControl.item_title = "{e(a.title)}";
WebControl.item_tags = "{e(', '.join(a.tags))}";
</script>"""


def _header_block(a: DemoArticle, cls: str = "sc-longform-header-default-normal", media: str = "") -> str:
    """The current template's header (anatomy §3.1 div.sc-longform-header, P1)."""
    header_author = "" if a.variant == "emagazine-byline" else a.byline
    return f"""<div class='sc-longform-header {cls} block-sc-longform-header'>
<div class='sc-longform-header-text'>
<span class='sc-longform-header-cate block-sc-cate-name'></span>
<h1 class='sc-longform-header-title block-sc-title'>{e(a.title)}</h1>
<div class='sc-longform-header-meta'>
<span class='sc-longform-header-author block-sc-author'>{e(header_author)}</span><span class='sc-text block-sc-text'>•</span>
<span class='sc-longform-header-date block-sc-publish-time'>{a.published.strftime('%d/%m/%Y %H:%M')}</span>
</div>
<p class='sc-longform-header-sapo block-sc-sapo'>
  {e(_sapo_text(a))}
</p></div>{media}</div>"""


def _breadcrumb(a: DemoArticle) -> str:
    items = "".join(f'<li class="breadcrumb-item"><a href="{a.base}{p.lstrip("/")}">{e(n)}</a></li>' for n, p in a.section)
    return f'<nav aria-label="breadcrumb"><ol class="breadcrumb"><li class="breadcrumb-item"><a href="/">Trang chủ</a></li>{items}</ol></nav>'


def render(a: DemoArticle) -> str:
    """The article page of ``a.variant``."""
    v = a.variant
    if v == "video":  # anatomy §5 Video, §14 Video
        main = f"""<div class="c-video-detail">
<div class="c-video-detail__cat"><a href="{a.base}video">{e(a.section[-1][0])}</a></div>
<div class="c-video-detail__title"><h1>{e(a.title)}</h1></div>
<div class="c-video-detail__time">{e(a.byline)} - {a.published.strftime('%d/%m/%Y - %H:%M')}</div>
<div class="c-video-detail__desc">{e(_sapo_text(a))}</div>
<video class="vjs-tech" src="{a.media_base or a.base}media/{a.id}.mp4" poster="{a.media_base or a.base}media/{a.id}-poster{'.png' if a.media_base else '.jpg'}"></video>
</div>"""
    elif v == "podcast":  # anatomy §5 Podcast, §14 Podcast
        main = f"""<div class="section_podcast_detail_newver"><div class="b-grid">
<h1 class="b-grid__title">{e(a.title)}</h1>
<div class="b-grid__author">{e(a.byline)}</div><span class="b-grid__time">{a.published.strftime('%d/%m/%Y %H:%M')}</span>
<div class="b-grid__desc"><a href="{a.url}">{e(_sapo_text(a))}</a></div>
<audio class="onecms__audio" src="{a.media_base or a.base}media/{a.id}.mp3"></audio></div></div>"""
    elif v == "older":  # anatomy §5 older c-detail-head template, §14 Normal (older)
        when = a.published.strftime("%H:%M %d/%m/%Y")
        main = f"""<div class="c-detail-head"><h1 class="c-detail-head__title">{e(a.title)}</h1>
<div class="c-detail-head__row"><span class="c-detail-head__author">{e(a.byline)}</span>
<span class="c-detail-head__time">{when} |</span></div></div>
<div class="c-news-detail"><div class="b-maincontent"><h2 class="desc">{e(_sapo_text(a))}</h2>
<article class="entry">{_body(a)}</article></div>{_chrome_bottom(a)}</div>"""
    else:  # anatomy §3.1 skeleton (P1, P2); longform per §5 and §14
        media, entry_cls, head_cls = "", "entry entry-no-padding", "sc-longform-header-default-normal"
        if v in ("longform", "emagazine-byline"):
            lead = a.images[0][0] if a.images else f"{a.base}lead.jpg"
            media = f"<div class='sc-longform-header-media'><img src='{e(lead)}'></div>"
            entry_cls, head_cls = "entry entry-no-padding longform", "sc-longform-header-top-normal"
        longform = v in ("longform", "emagazine-byline")
        body_article = DemoArticle(**{**a.__dict__, "images": a.images[1:]}) if longform else a
        author_page = ""
        if v == "syndicated" and a.source:  # anatomy §3.1 / §5 Syndicated (baonghean 8b53899e)
            author_page = (f'<div class="c-author-page">Nguồn {e(a.source)} <span id="url-copy">'
                           f'https://{e(a.source)}/bai-goc-{a.id}.htm</span></div>')
        elif v == "syndicated-widget" and a.source:  # §5 Syndicated, as nguoiquansat 110172 prints it
            author_page = f"""<div class="c-author-page"><div class="c-author-page__right">
<span class="btn btn-light is-circle js-source-copy"><span>
    Nguồn {e(a.source)}
</span><i class="icon-right icon16-redirect-gray"></i></span>
<div class="c-author-page__pc-pop"><label>Link bài gốc</label>
<span id="url-copy">
https://{e(a.source)}/bai-goc-{a.id}.htm                </span>
<label style="float:right" class="source-published-time"></label></div>
<a href="javascript:void(0)" class="c-author-page__copy js-copy-link">Copy Link</a>
<span class="c-author-page__copied">Link đã được copy</span>
</div></div>"""
        main = f"""<div class="c-detail-head"><div class="c-detail-head__row">{_breadcrumb(a)}</div>
<div class="c-detail-head__row is-bar"><div class="c-share-scroll"><span>Cỡ chữ</span><span>Mặc định</span></div></div></div>
<div class="c-news-detail"><div class="b-maincontent"><div itemprop="articleBody">
<article class="{entry_cls}">{_header_block(a, head_cls, media)}
{_body(body_article, figure_captions=longform)}
</article></div></div>{author_page}{_chrome_bottom(a)}</div>"""
    return f"""<!DOCTYPE html>
<html lang="vi">
{_head(a)}
<body>
{_chrome_top(a)}
<div class="c-container-wrapper"><div class="l-content bg-detail"><div class="container"><div class="l-content-flex">
<div class="l-main">{main}</div>
</div></div></div></div>
{_footer(a)}
{_script(a)}
</body>
</html>
"""


def expected(a: DemoArticle) -> dict[str, object]:
    """The record fields this article's page states (all but url-derived fields and fetch time)."""
    longform = a.variant in ("longform", "emagazine-byline")
    body_images = a.images[1:] if longform else a.images
    images = ([{"src": a.images[0][0], "caption": None}] if longform and a.images else [])
    if a.variant == "gallery":  # one figure: its caption is every image's
        body_images = [(src, a.images[0][1]) for src, _ in a.images]
    images += [{"src": src, "caption": cap} for src, cap in body_images]
    kind = {"longform": "longform", "emagazine-byline": "longform", "video": "video", "podcast": "podcast",
            "photo": "photo"}.get(a.variant, "article")
    no_body = a.variant in ("video", "podcast")
    # without JSON-LD, the current template's visible header time (no seconds) comes before the
    # US-format meta (which has them)
    seconds = a.jsonld or a.variant in ("older", "video", "podcast")
    published = a.published if seconds else a.published.replace(second=0)
    return {
        "kind": kind,
        "title": a.title,
        "sapo": a.sapo,
        "dateline": a.dateline,
        "authors": list(a.authors or []),
        "published_at": published.isoformat(),
        "section": a.section[-1][0],
        "breadcrumb": [n for n, _ in a.section],
        "tags": list(a.tags),
        "body_text": "" if no_body else "\n\n".join(a.paragraphs),
        "images": [] if no_body else images,
        "source": a.source if a.variant in ("syndicated", "syndicated-widget") else None,
    }
