"""Fill the bot's new messages in the zh and en catalogs (en: the msgid itself)."""
from babel.messages.pofile import read_po, write_po

ZH = {
 'Start, and subscribe with one button': '开始，一键订阅',
 'The newest posts (/latest 10 for ten)': '最新文章（/latest 10 显示十篇）',
 'Search the whole archive': '搜索全部文章',
 'Every series, or one series by name': '所有系列，或按名称查看一个系列',
 'Get every new post, or one series': '订阅所有新文章，或某个系列',
 'Stop everything, or one series': '取消全部订阅，或某个系列',
 'Instant or digest, hour, language': '即时或摘要、时间、语言',
 'Delete everything stored about you': '删除关于你的所有数据',
 'This list': '本列表',
 'Figures for the admins': '管理员统计',
 'This button no longer works; please send the command again.': '这个按钮已失效，请重新发送命令。',
 'Yes, delete everything': '是，全部删除',
 'No, keep it': '不，保留',
 'More ▸': '更多 ▸',
 'the count must be a number from 1 to 20': '数量须为 1 到 20 之间的数字',
 '◂ Previous': '◂ 上一页',
 'Next ▸': '下一页 ▸',
 'This search has expired; please send it again.': '这次搜索已过期，请重新发送。',
 'Follow this series': '关注这个系列',
 'Instant': '即时',
 'Daily': '每日',
 'Weekly': '每周',
 'Subscribe to every new post': '订阅所有新文章',
 'Monday': '周一', 'Tuesday': '周二', 'Wednesday': '周三', 'Thursday': '周四', 'Friday': '周五',
 'Saturday': '周六', 'Sunday': '周日',
 'Welcome back, %(name)s!': '欢迎回来，%(name)s！',
 'Hello, %(name)s!': '你好，%(name)s！',
 'I tell you about new posts on Scientific Spaces (kexue.fm), the blog of Su Jianlin on machine learning and mathematics, and search its whole archive for you.':
   '我会告诉你科学空间（kexue.fm，苏剑林关于机器学习与数学的博客）的新文章，也能帮你搜索它的全部文章。',
 'You now follow the series “%(name)s”: each new part comes to you.': '你已关注系列「%(name)s」：每一篇新的都会发给你。',
 'You already follow the series “%(name)s”.': '你已经关注了系列「%(name)s」。',
 'That link names a series I do not know; /series lists them all.': '这个链接指向的系列不存在；/series 列出所有系列。',
 'Press the button to get every new post, or send /help to see what I can do.': '按下按钮订阅所有新文章，或发送 /help 看看我能做什么。',
 'What I can do': '我能做什么',
 'In any chat, type @%(bot)s and a few words to share a post from the archive.': '在任何聊天中输入 @%(bot)s 和几个词，即可分享一篇文章。',
 'Older posts, from number %(first)s': '更早的文章，从第 %(first)s 篇起',
 'The newest posts': '最新文章',
 'No posts are stored yet. Please try again in a few minutes.': '还没有存储任何文章，请几分钟后再试。',
 'There are no older posts.': '没有更早的文章了。',
 'Send /search and some words, for example: /search 低秩 or /search attention.': '请在 /search 后面写上关键词，例如：/search 低秩 或 /search attention。',
 'Search: %(query)s': '搜索：%(query)s',
 'page %(page)s': '第 %(page)s 页',
 'Nothing found for “%(query)s”. Try fewer words, or browse the series with /series.': '没有找到「%(query)s」。试试少用几个词，或用 /series 浏览系列。',
 'No more results for “%(query)s”.': '「%(query)s」没有更多结果了。',
 'I cannot do that: %(reason)s.': '无法执行：%(reason)s。',
 'Series on Scientific Spaces': '科学空间的系列',
 'page %(page)s of %(pages)s': '第 %(page)s 页，共 %(pages)s 页',
 'latest %(date)s': '最新 %(date)s',
 ('%(num)s part', '%(num)s parts'): ('%(num)s 篇',),
 'Press a series to see its parts, or send /series and a name.': '按下一个系列查看各篇，或发送 /series 加名称。',
 'No series are stored yet.': '还没有存储任何系列。',
 'Not stored: part %(parts)s.': '未收录：第 %(parts)s 篇。',
 'Several series match “%(name)s”:': '有多个系列匹配「%(name)s」：',
 'Press one, or type more of its name.': '请按下其中一个，或输入更完整的名称。',
 'No series matches “%(name)s”. /series lists them all.': '没有系列匹配「%(name)s」。/series 列出所有系列。',
 'Done: each new part of “%(name)s” will come to you.': '好的：「%(name)s」的每一篇新文章都会发给你。',
 'You already follow “%(name)s”; nothing changed.': '你已经关注了「%(name)s」，没有变化。',
 'Done: every new post will come to you. /settings chooses instant messages or a digest.': '好的：每篇新文章都会发给你。/settings 可选择即时消息或摘要。',
 'You already get every new post; nothing changed.': '你已经订阅了所有新文章，没有变化。',
 'Done: you no longer follow “%(name)s”.': '好的：你不再关注「%(name)s」。',
 'You did not follow “%(name)s”; nothing changed.': '你没有关注「%(name)s」，没有变化。',
 'Done: you are unsubscribed from everything. /subscribe brings it back.': '好的：已取消全部订阅。/subscribe 可重新订阅。',
 'You were not subscribed to anything; nothing changed.': '你没有订阅任何内容，没有变化。',
 'Your settings': '你的设置',
 'Delivery: each new post at once.': '推送：每篇新文章即时发送。',
 'Delivery: a daily digest at %(hour)s.': '推送：每天 %(hour)s 发送摘要。',
 'Delivery: a weekly digest on %(day)s at %(hour)s.': '推送：每%(day)s %(hour)s 发送周摘要。',
 'Language: English': '语言：English',
 'Language: Chinese': '语言：中文',
 'You follow every new post.': '你订阅了所有新文章。',
 'You follow: %(names)s.': '你关注的系列：%(names)s。',
 'You follow nothing yet: /subscribe.': '你还没有订阅任何内容：/subscribe。',
 'Delete everything I store about this chat (settings, subscriptions, email sign-ups)? This cannot be undone.': '删除我存储的关于此聊天的所有数据（设置、订阅、邮件登记）？此操作无法撤销。',
 'Done: everything about this chat is deleted. /start begins again.': '好的：关于此聊天的所有数据已删除。/start 可重新开始。',
 'I stored nothing about this chat.': '我没有存储关于此聊天的任何数据。',
 'Nothing was deleted.': '没有删除任何内容。',
 'Statistics': '统计',
 'Readers: %(instant)s instant, %(daily)s daily, %(weekly)s weekly, %(inactive)s blocked or off.': '读者：即时 %(instant)s，每日 %(daily)s，每周 %(weekly)s，已屏蔽或停用 %(inactive)s。',
 'Last poll: %(at)s, %(result)s.': '上次轮询：%(at)s，%(result)s。',
 'succeeded': '成功',
 'failed or still running': '失败或仍在进行',
 'Last poll: never.': '上次轮询：从未。',
 'Failing sources:': '失败的来源：',
 ('%(num)s failure', '%(num)s failures'): ('%(num)s 次失败',),
 'No failing source.': '没有失败的来源。',
 'Outbox: %(depth)s waiting.': '待发送：%(depth)s 条。',
 'Today: %(sent)s sent, %(failed)s failed.': '今天：已发送 %(sent)s，失败 %(failed)s。',
 'I do not know that command. /help lists what I can do.': '我不认识这个命令。/help 列出我能做的事。',
 'You are sending messages very fast; please wait a few seconds and I will answer again.': '你发送消息太快了，请稍等几秒，我会再回复你。',
 'Sorry, something went wrong on my side. Please try again in a moment.': '抱歉，我这边出了点问题，请稍后再试。',
}

def fill(path, lang):
    with open(path, 'rb') as f:
        cat = read_po(f)
    for m in cat:
        if not m.id:
            continue
        key = m.id
        empty = (isinstance(m.string, str) and not m.string) or (isinstance(m.string, tuple) and not all(m.string))
        if not (empty or m.fuzzy):
            continue
        if lang == 'en':
            m.string = m.id if isinstance(m.id, str) else tuple(m.id)
        else:
            m.string = ZH[key]
        m.flags.discard('fuzzy')
    with open(path, 'wb') as f:
        write_po(f, cat, width=0, include_previous=False)

fill('locales/zh/LC_MESSAGES/messages.po', 'zh')
fill('locales/en/LC_MESSAGES/messages.po', 'en')
