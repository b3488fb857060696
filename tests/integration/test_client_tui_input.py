"""The terminal UI's input line after edits that shorten it (issue 14, found by a new
user): the line must stay visible after ^U or ^W and new text arrive in one burst, and
after the window grows."""

from harness import MESSAGE, requires_client
from test_client_tui import TuiCase
from tui_driver import requires_tmux


@requires_client
@requires_tmux
class TuiInputLine(TuiCase):

    def test_text_after_ctrl_u_in_one_burst_is_shown(self):
        t = self.tui('--name', 'inputter', cols=100, rows=20)
        t.wait_text(r'Your name is inputter')
        t.type('x' * 150)   # longer than the window: the line scrolls
        t.wait_screen(lambda r: r[-1].endswith('x' * 50), what='the long line')
        t.keys('C-u', 'a', 'b', 'c')   # one burst: the UI draws once after all four
        t.wait_screen(lambda r: r[-1] == '> abc', what='"> abc" after ^U abc')
        t.type(' ' + 'y' * 150)
        t.keys('C-w', 'd', 'e', 'f')
        t.wait_screen(lambda r: r[-1] == '> abc def', what='"> abc def" after ^W def')

    def test_wider_window_shows_the_line_from_its_start(self):
        t = self.tui('--name', 'widener', cols=60, rows=20)
        t.wait_text(r'Your name is widener')
        line = 'the start of a line ' + 'z' * 60 + ' edge'
        t.type(line)
        t.wait_screen(lambda r: r[-1].endswith(' edge') and not r[-1].startswith('> the start'),
                      what='the line scrolled at 60 columns')
        t.resize(100, 20)
        t.wait_screen(lambda r: r[-1] == '> ' + line, what='the whole line at 100 columns')

    def test_a_blank_line_is_not_sent(self):
        listener = self.h2('listener')
        t = self.tui('--name', 'blanker')
        t.wait_text(r'Your name is blanker')
        t.enter('   ')
        t.wait_screen(lambda r: r[-1] == '>', what='the input line emptied')
        t.enter('after the blank')
        m = listener.expect(MESSAGE, timeout=10)   # the first message it gets
        self.assertEqual((m.sender, m.text), ('blanker', 'after the blank'))
