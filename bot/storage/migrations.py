"""The schema, as the ordered steps that build it: an old data directory follows the same
path to the current schema as a new one."""

# MIGRATIONS[n] upgrades a database from user_version n to n + 1. Never edit a shipped entry:
# add a new one, so every existing data directory follows the same path to the current schema.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: chat settings, questions asked, feedback.
    """
    CREATE TABLE chats (
        chat_id     INTEGER PRIMARY KEY,
        language    TEXT,              -- 'id' | 'en' | NULL (not chosen: detect per question)
        timezone    TEXT,              -- IANA name | NULL (use settings.timezone)
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE questions (
        id          INTEGER PRIMARY KEY,
        asked_at    TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,
        user_id     INTEGER,
        text        TEXT,              -- NULL when BOT_LOG_QUESTIONS=false
        lang        TEXT NOT NULL,
        anecdote_id TEXT,              -- best match, NULL when nothing matched
        score       INTEGER NOT NULL,
        answered    INTEGER NOT NULL,  -- 0 | 1
        source      TEXT NOT NULL      -- 'private' | 'group' | 'inline' | 'cli'
    );
    CREATE INDEX questions_by_time ON questions (asked_at);
    CREATE INDEX questions_by_chat ON questions (chat_id, asked_at);
    CREATE TABLE feedback (
        id          INTEGER PRIMARY KEY,
        given_at    TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,
        user_id     INTEGER,
        anecdote_id TEXT NOT NULL,
        positive    INTEGER NOT NULL   -- 1 = thumbs up, 0 = thumbs down
    );
    CREATE INDEX feedback_by_time ON feedback (given_at);
    """,
    # 1 -> 2: daily-tip subscriptions, the delivery log, and each chat's place in the tip deck.
    """
    CREATE TABLE subscriptions (
        chat_id     INTEGER PRIMARY KEY,  -- one per chat: /daily again changes it
        at_time     TEXT NOT NULL,        -- 'HH:MM', local time in the chat's zone
        days        INTEGER NOT NULL,     -- day mask, bit 0 = Monday
        since       TEXT NOT NULL,        -- set or last changed (UTC): earlier slots not owed
        created_by  INTEGER,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY,
        chat_id     INTEGER NOT NULL,
        kind        TEXT NOT NULL,        -- 'daily' | 'now'
        local_date  TEXT,                 -- 'YYYY-MM-DD' in the chat's zone (daily), else NULL
        tip_key     TEXT NOT NULL,
        state       TEXT NOT NULL,        -- pending|sending|sent|failed|unknown|expired
        message_id  INTEGER,
        error       TEXT,
        claimed_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        UNIQUE (chat_id, local_date)      -- at most one daily tip per chat and local day
    );
    CREATE INDEX deliveries_by_state ON deliveries (state);
    CREATE TABLE tip_rotation (
        chat_id     INTEGER PRIMARY KEY,
        cycle       INTEGER NOT NULL,     -- how many times this chat went through the deck
        last_key    TEXT
    );
    CREATE TABLE tips_used (
        chat_id     INTEGER NOT NULL,
        cycle       INTEGER NOT NULL,
        tip_key     TEXT NOT NULL,
        used_at     TEXT NOT NULL,
        PRIMARY KEY (chat_id, cycle, tip_key)
    );
    """,
    # 2 -> 3: what team leads decided about questions in their inbox (bot/leads/inbox.py).
    """
    CREATE TABLE decisions (
        question_id INTEGER PRIMARY KEY,  -- questions.id: one decision per question
        decision    TEXT NOT NULL,        -- 'taught' | 'gap' (no story fits) | 'skip' |
                                          -- 'open' (undone: back in the inbox)
        anecdote_id TEXT,                 -- the story taught ('taught' only)
        previous    TEXT,                 -- the state an undo restores: 'taught:<id>',
                                          -- 'gap', 'skip', 'open', NULL (nothing to undo)
        text        TEXT NOT NULL,        -- the question as asked (the taught phrasing)
        text_key    TEXT NOT NULL,        -- inboxrecords.text_key: the same question
        lang        TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,     -- the chat the question was asked in
        decided_by  INTEGER,              -- the team lead's user id
        decided_in  INTEGER NOT NULL,     -- the chat the lead decided in (daily limit)
        decided_at  TEXT NOT NULL,
        notified_at TEXT                  -- when the asker heard back (at most once)
    );
    CREATE INDEX decisions_by_key ON decisions (text_key);
    CREATE INDEX decisions_by_time ON decisions (decided_at);
    """,
    # 3 -> 4: where a decision applies (issue 15): a group's admins teach that group only.
    # Decisions made in a group so far become that group's; those made in a private chat
    # (only TEAM_LEAD_IDS could) or the terminal stay bot-wide (NULL).
    """
    ALTER TABLE decisions ADD COLUMN scope INTEGER;          -- NULL: every chat, else a group
    ALTER TABLE decisions ADD COLUMN previous_scope INTEGER; -- the scope an undo restores
    UPDATE decisions SET scope = decided_in, previous_scope = decided_in WHERE decided_in < 0;
    """,
    # 4 -> 5: one vote per user, message and story; each vote says which question it is about
    # (issue 15), so the inbox finds the 👎 questions through an index instead of a search of
    # the questions per vote. Votes recorded so far get their question as the inbox found it
    # (the latest of that chat answered with that story before the vote), and repeated votes
    # of one user on one question and story (forged presses of the same button) become one.
    """
    ALTER TABLE feedback ADD COLUMN message_id INTEGER;   -- the answer voted on, NULL: unknown
    ALTER TABLE feedback ADD COLUMN question_id INTEGER;  -- questions.id, NULL: none found
    CREATE INDEX questions_answered_by_story ON questions (chat_id, anecdote_id, id)
        WHERE answered = 1;
    UPDATE feedback SET question_id = (
        SELECT q.id FROM questions q
        WHERE q.chat_id = feedback.chat_id AND q.anecdote_id = feedback.anecdote_id
          AND q.answered = 1 AND q.asked_at <= feedback.given_at
        ORDER BY q.id DESC LIMIT 1);
    DELETE FROM feedback WHERE id NOT IN (
        SELECT MIN(id) FROM feedback GROUP BY chat_id, user_id, anecdote_id, question_id);
    CREATE UNIQUE INDEX feedback_one_vote ON feedback (chat_id, message_id, user_id, anecdote_id)
        WHERE message_id IS NOT NULL;
    CREATE INDEX feedback_down ON feedback (question_id) WHERE positive = 0;
    CREATE INDEX feedback_down_by_chat ON feedback (chat_id, question_id) WHERE positive = 0;
    CREATE INDEX questions_open ON questions (id) WHERE answered = 0;
    CREATE INDEX questions_open_by_chat ON questions (chat_id, id) WHERE answered = 0;
    CREATE INDEX decisions_by_chat ON decisions (chat_id);
    """,
    # 5 -> 6: quiz polls and answers, users who started the bot in private, each chat's daily
    # mode (tips, quiz, mix) and the weekly digests (issue 19; bot/storage/quizrecords.py).
    """
    CREATE TABLE quiz_polls (
        poll_id     TEXT PRIMARY KEY,     -- Telegram's poll id (the terminal makes its own)
        chat_id     INTEGER NOT NULL,     -- where it was sent: a group or a private chat
        quiz_key    TEXT NOT NULL,        -- '<anecdote id>:q<index>'
        correct     INTEGER NOT NULL,     -- the right option as sent (0-based)
        message_id  INTEGER,
        delivery_id INTEGER,              -- deliveries.id (daily quiz, /quiznow), else NULL
        sent_at     TEXT NOT NULL
    );
    CREATE INDEX quiz_polls_by_chat ON quiz_polls (chat_id, sent_at);
    CREATE TABLE quiz_answers (
        poll_id     TEXT NOT NULL,
        user_id     INTEGER NOT NULL,
        chat_id     INTEGER NOT NULL,     -- the poll's chat (copied: /stats filters on it)
        quiz_key    TEXT NOT NULL,
        option      INTEGER NOT NULL,
        right       INTEGER NOT NULL,     -- 0 | 1
        answered_at TEXT NOT NULL,
        PRIMARY KEY (poll_id, user_id)    -- once per member and poll
    );
    CREATE INDEX quiz_answers_by_user ON quiz_answers (user_id, answered_at);
    CREATE INDEX quiz_answers_by_chat ON quiz_answers (chat_id, answered_at);
    CREATE TABLE private_users (
        user_id     INTEGER PRIMARY KEY,  -- started the bot in private: it may write to them
        started_at  TEXT NOT NULL
    );
    CREATE TABLE quiz_modes (
        chat_id     INTEGER PRIMARY KEY,
        mode        TEXT NOT NULL         -- 'tips' | 'quiz' | 'mix' (alternate)
    );
    CREATE TABLE digests (
        chat_id     INTEGER NOT NULL,
        week        TEXT NOT NULL,        -- the Monday (local date) of the weekly digest
        state       TEXT NOT NULL,        -- sending | sent | empty | failed | unknown
        error       TEXT,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (chat_id, week)       -- at most one weekly digest per team and week
    );
    """,
    # 6 -> 7 (issue 15 items 6, 7, 9): the hear-back outbox, and whether a question was
    # answered. A question is recorded when it arrives ('waiting'), before its answer may wait
    # in the rate limiter; 'replied' once Telegram took the answer. Older rows (and inline or
    # terminal questions) have NULL: nothing is owed.
    """
    ALTER TABLE questions ADD COLUMN message_id INTEGER;  -- the question's message in its chat
    ALTER TABLE questions ADD COLUMN reply_state TEXT;    -- NULL | 'waiting' | 'replied' |
                                                          -- 'dropped' (not answerable later)
    CREATE INDEX questions_by_message ON questions (chat_id, message_id);
    CREATE INDEX questions_waiting ON questions (reply_state) WHERE reply_state = 'waiting';
    CREATE TABLE hearbacks (
        id          INTEGER PRIMARY KEY,
        question_id INTEGER NOT NULL UNIQUE,  -- one hear-back per question, ever
        chat_id     INTEGER NOT NULL,         -- where the question was asked
        anecdote_id TEXT NOT NULL,            -- the story the lead picked
        text        TEXT NOT NULL,            -- the question as asked (quoted back)
        lang        TEXT NOT NULL,
        state       TEXT NOT NULL,            -- pending|queued|sending|sent|failed|unknown
        attempts    INTEGER NOT NULL DEFAULT 0,
        due_at      TEXT NOT NULL,            -- not sent before (a retry's back-off)
        message_id  INTEGER,                  -- the message that carried it
        error       TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX hearbacks_by_state ON hearbacks (state, chat_id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration script into statements (ours never put ';' inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]
