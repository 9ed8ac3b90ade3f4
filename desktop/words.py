"""The desktop app's own few lines for a person at a terminal, in the system's language.

The window's words live with the UI (``static/i18n``); these are the lines printed before or
instead of a window: no display, the address to open, a port that is taken. The log keeps
English (it is read when reporting bugs). A language missing here, or a line missing from one,
falls back to English. Machine-made like the UI's files: see README "Translations".
"""

from __future__ import annotations

import locale
import os
from collections.abc import Mapping

EN = {
    "no_display": "no display found",
    "no_gui": "no GUI toolkit found (install LAN Chat's desktop extra: pywebview with Qt)",
    "headless": "headless mode",
    "serving": "{reason}; serving the UI at {url} — open it in a browser (Ctrl+C to stop)",
    "cannot_listen": "cannot listen on port {port}: {error}. Pick another --port.",
    "cannot_start": "cannot start: {error}",
    "window_open": "window open on {url}",
}

CATALOGUE: dict[str, dict[str, str]] = {
    "en": EN,
    "ar": {"no_display": "لم يُعثر على شاشة", "headless": "وضع بلا واجهة",
           "serving": "{reason}؛ الواجهة متاحة على {url} — افتحها في متصفح (Ctrl+C للإيقاف)",
           "cannot_listen": "تعذّر الاستماع على المنفذ {port}: {error}. اختر منفذًا آخر عبر --port.",
           "cannot_start": "تعذّر البدء: {error}", "window_open": "النافذة مفتوحة على {url}"},
    "de": {"no_display": "kein Bildschirm gefunden", "headless": "ohne Fenster",
           "serving": "{reason}; die Oberfläche läuft unter {url} — öffne sie in einem Browser "
                      "(Strg+C zum Beenden)",
           "cannot_listen": "Port {port} ist nicht nutzbar: {error}. Wähle mit --port einen "
                            "anderen.",
           "cannot_start": "Start nicht möglich: {error}",
           "window_open": "Fenster offen auf {url}"},
    "es": {"no_display": "no se encontró ninguna pantalla", "headless": "modo sin ventana",
           "serving": "{reason}; la interfaz está en {url}: ábrela en un navegador "
                      "(Ctrl+C para parar)",
           "cannot_listen": "no se puede escuchar en el puerto {port}: {error}. Elige otro con "
                            "--port.",
           "cannot_start": "no se puede iniciar: {error}",
           "window_open": "ventana abierta en {url}"},
    "fr": {"no_display": "aucun écran trouvé", "headless": "mode sans fenêtre",
           "serving": "{reason} ; l’interface est servie sur {url} — ouvrez-la dans un navigateur "
                      "(Ctrl+C pour arrêter)",
           "cannot_listen": "impossible d’écouter sur le port {port} : {error}. Choisissez un "
                            "autre --port.",
           "cannot_start": "démarrage impossible : {error}",
           "window_open": "fenêtre ouverte sur {url}"},
    "hi": {"no_display": "कोई डिस्प्ले नहीं मिला", "headless": "बिना विंडो वाला मोड",
           "serving": "{reason}; UI {url} पर चल रहा है — इसे ब्राउज़र में खोलें (रोकने के लिए Ctrl+C)",
           "cannot_listen": "पोर्ट {port} पर नहीं सुन सकते: {error}। कोई दूसरा --port चुनें।",
           "cannot_start": "शुरू नहीं हो सका: {error}", "window_open": "विंडो {url} पर खुली है"},
    "ja": {"no_display": "ディスプレイが見つかりません", "headless": "ウィンドウなしモード",
           "serving": "{reason}。UI を {url} で提供しています。ブラウザーで開いてください"
                      "(Ctrl+C で停止)",
           "cannot_listen": "ポート {port} で待ち受けできません: {error}。別の --port を指定して"
                            "ください。",
           "cannot_start": "起動できません: {error}",
           "window_open": "ウィンドウを開きました: {url}"},
    "ko": {"no_display": "디스플레이를 찾을 수 없습니다", "headless": "창 없는 모드",
           "serving": "{reason}; {url}에서 UI를 제공합니다 — 브라우저에서 여세요 (중지: Ctrl+C)",
           "cannot_listen": "포트 {port}에서 연결을 받을 수 없습니다: {error}. 다른 --port를 "
                            "고르세요.",
           "cannot_start": "시작할 수 없습니다: {error}", "window_open": "창이 열렸습니다: {url}"},
    "pt": {"no_display": "nenhuma tela encontrada", "headless": "modo sem janela",
           "serving": "{reason}; a interface está em {url} — abra-a em um navegador "
                      "(Ctrl+C para parar)",
           "cannot_listen": "não foi possível escutar na porta {port}: {error}. Escolha outra "
                            "--port.",
           "cannot_start": "não foi possível iniciar: {error}",
           "window_open": "janela aberta em {url}"},
    "ru": {"no_display": "дисплей не найден", "headless": "режим без окна",
           "serving": "{reason}; интерфейс доступен по адресу {url} — откройте его в браузере "
                      "(Ctrl+C — остановить)",
           "cannot_listen": "не удаётся слушать порт {port}: {error}. Выберите другой --port.",
           "cannot_start": "не удаётся запустить: {error}", "window_open": "окно открыто: {url}"},
    "zh-CN": {"no_display": "未找到显示器", "headless": "无窗口模式",
              "serving": "{reason};界面运行在 {url} — 请在浏览器中打开(按 Ctrl+C 停止)",
              "cannot_listen": "无法在端口 {port} 上监听:{error}。请用 --port 换一个端口。",
              "cannot_start": "无法启动:{error}", "window_open": "窗口已打开:{url}"},
}


def system_language(env: Mapping[str, str] | None = None) -> str:
    """The catalogue's language for the system's locale (LC_ALL, LC_MESSAGES, LANG, LANGUAGE as
    POSIX orders them; the platform's locale elsewhere); English when it has none."""
    env = os.environ if env is None else env
    tags = [env.get(name, "") for name in ("LC_ALL", "LC_MESSAGES", "LANG")]
    tags += env.get("LANGUAGE", "").split(":")
    if not any(tags):
        tags.append(locale.getlocale()[0] or "")
    for tag in tags:
        base = tag.split(".")[0].split("@")[0].replace("_", "-")
        if not base or base in ("C", "POSIX"):
            continue
        lang = base.split("-")[0].lower()
        if lang == "zh":
            return "zh-CN"
        if lang in CATALOGUE:
            return lang
        return "en"  # the locale names a language the catalogue lacks
    return "en"


def words(key: str, lang: str | None = None, **params: object) -> str:
    """The line ``key`` in ``lang`` (the system's by default), placeholders filled."""
    table = CATALOGUE.get(lang or system_language(), EN)
    return table.get(key, EN[key]).format(**params)
