"""`make demo` in fast mode, as a newcomer would run it: a subprocess whose transcript tells the story."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from tests.support.service import clean_environment

ROOT = Path(__file__).resolve().parents[2]


async def test_the_demo_runs_offline_and_shows_what_every_reader_received() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.demo",
        "--fast",
        cwd=ROOT,
        env=clean_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # Generous: the machine may be loaded; the demo itself takes about 15 s in fast mode.
        out_bytes, err_bytes = await asyncio.wait_for(proc.communicate(), timeout=180)
    finally:
        if proc.returncode is None:
            proc.terminate()  # the demo stops the service it started, then exits
            await proc.wait()
    out, err = out_bytes.decode(), err_bytes.decode()
    assert proc.returncode == 0, f"demo failed:\n{out[-3000:]}\n{err[-3000:]}"
    assert "Traceback" not in out + err

    # Each reader's conversation, as the summary lists it.
    summary = out.split("── What each chat and mailbox received", 1)[1]
    assert re.search(r"📱 张三 received 5 messages:\n\s+· 你好，张三！", summary)
    assert "最新文章 · 从Hessian近似看自适应学习率优化器" in summary
    assert "搜索：梯度 · 从谱范数梯度到新式权重衰减的思考" in summary  # the backfilled archive is searched
    assert "Your settings · Delivery: each new post at once." in summary  # Alice switched to English
    assert "Done: each new part of “MuP之上” will come to you." in summary
    assert "你的设置 · 推送：每天 08:00 发送摘要。" in summary  # 王五 chose the daily digest
    assert re.search(r"📱 Admin received 1 message:\n\s+· 统计 · 读者：即时 3，每日 1", summary)
    assert re.search(r"📱 group 机器学习读书会 received 2 messages:", summary)

    # The new post: announced once to each instant reader, not to the daily reader, and in the weekly mail.
    assert "科学空间有新文章 · MuP之上：3. 自注意力的学习率缩放" in summary
    assert "New on Scientific Spaces · MuP之上：3. 自注意力的学习率缩放" in summary
    assert "at once:      张三 ×1, Alice ×1, group 机器学习读书会 ×1" in summary
    assert "daily digest: 王五 ×0 (not yet" in summary
    assert "weekly email: reader@example.org ×1" in summary
    # The math of its excerpt reaches the chats as Unicode.
    assert "QKᵀ/√d" in out

    # The mailbox: the confirmation (followed through the web app), then the weekly digest.
    assert re.search(
        r"✉ reader@example.org received 2 mails:\n"
        r"\s+· subject “Confirm your weekly email from Scientific Spaces”\n"
        r"\s+· subject “Scientific Spaces: new posts, 2025-12-15 to 2025-12-22”",
        summary,
    )
    assert "presses Confirm; the page answers 200: Thank you: the weekly email will come" in out
    assert "week 2025-W52: 1 sent" in out
    assert "kexue-notifier run stopped with SIGTERM: exit status 0" in out
