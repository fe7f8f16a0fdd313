"""The chat answer, in the Z-Image script's layout so the regular expressions its users wrote
keep working; every piece of user or LLM text is neutralised first."""

from api.urls import image_url
from common.prompt.markup import neutralise
from common.prompt.size_plan import describe_ratio
from common.schemas import JobResult


def render(result: JobResult, base_url: str) -> str:
    alt = neutralise(result.prompt[:80]) or "image"
    lines = [
        f"![{alt}]({image_url(base_url, image.id, image.extension)})" for image in result.images
    ]
    lines += ["", "---"]
    if result.enhanced:
        lines += [
            "**✨ Enhanced Prompt:**",
            neutralise(result.prompt),
            "",
            "**📝 Original Input:**",
            neutralise(result.original),
            "",
        ]
    else:
        if result.enhance_failure:  # the Z-Image script's label, then why
            lines += [
                f"**⚠️ Enhancement failed, using original prompt** ({neutralise(result.enhance_failure)})",
                "",
            ]
        lines += ["**📝 Prompt:**", neutralise(result.prompt), ""]
    first = result.images[0]
    lines.append(
        f"**🎨 Aspect Ratio:** {result.ratio or describe_ratio(first.width, first.height)}"
    )
    lines.append(f"**📐 Resolution:** {first.width}×{first.height}")
    lines.append(f"**🤖 Model:** {neutralise(result.model)}")
    if result.seed is not None:
        seeds = ", ".join(str(result.seed + i) for i in range(len(result.images)))
        lines.append(f"**🎲 Seed:** {seeds}")
    lines += [f"**ℹ️ Note:** {neutralise(note)}" for note in result.notes]
    return "\n".join(lines)
