import type { components } from '@autocode/client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { describeError, unwrap } from '../api';
import { useTitle } from '../router';
import { useSession } from '../session';

type UserQuota = components['schemas']['UserQuotaView'];
type Tier = NonNullable<components['schemas']['UpdateQuotaDto']['tier']>;
const TIERS: Tier[] = ['free', 'standard', 'premium'];
const FIGURES = [
  ['concurrent', 'Running at once'],
  ['queued', 'Queued at once'],
  ['daily', 'Runs per day'],
  ['maxRunSeconds', 'Longest run (s)'],
  ['dailyBudgetUsd', 'Dollars per day'],
] as const;

export default function UsersPage() {
  useTitle('Users');
  const { client } = useSession();
  const users = useQuery({ queryKey: ['admin-users'], queryFn: async () => unwrap(await client.GET('/api/v1/admin/users')) });
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      {users.isError && (
        <p className="error" role="alert">
          {describeError(users.error)}
        </p>
      )}
      <ul className="list">
        {users.data?.items.map((user) => (
          <UserCard key={user.userId} user={user} />
        ))}
      </ul>
    </section>
  );
}

/** One user: usage, and a form for the tier and the overrides (empty: the tier's figure). */
function UserCard({ user }: { user: UserQuota }) {
  const { client } = useSession();
  const queries = useQueryClient();
  const [tier, setTier] = useState<Tier | ''>(user.overrides.tier ?? '');
  const [figures, setFigures] = useState<Record<string, string>>(() =>
    Object.fromEntries(FIGURES.map(([key]) => [key, user.overrides[key] === null ? '' : String(user.overrides[key])])),
  );
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const id = `user-${user.userId.replace(/\W+/g, '-')}`;

  const save = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setMessage(null);
    try {
      unwrap(
        await client.PUT('/api/v1/admin/users/{id}/quota', {
          params: { path: { id: user.userId } },
          body: {
            tier: tier === '' ? null : tier,
            ...Object.fromEntries(FIGURES.map(([key]) => [key, figures[key] === '' ? null : Number(figures[key])])),
          },
        }),
      );
      setMessage({ error: false, text: 'Saved.' });
      await queries.invalidateQueries({ queryKey: ['admin-users'] });
    } catch (caught) {
      setMessage({ error: true, text: describeError(caught) });
    }
  };

  return (
    <li className="card">
      <form aria-label={`Quota of ${user.userId}`} onSubmit={(event) => void save(event)}>
        <div className="list-head">
          <h2 className="mono">{user.userId}</h2>
          <span className="muted">
            {user.role} · tier {user.tier} · running {user.concurrent.used}/{user.concurrent.limit} · queued {user.queued.used}/{user.queued.limit} · today {user.daily.used}/
            {user.daily.limit} · ${user.budget.usedUsd.toFixed(2)} of ${user.budget.limitUsd.toFixed(2)}
          </span>
        </div>
        <div className="row">
          <div className="field">
            <label htmlFor={`${id}-tier`}>Tier</label>
            <select id={`${id}-tier`} value={tier} onChange={(event) => setTier(event.target.value as Tier | '')}>
              <option value="">server default</option>
              {TIERS.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          </div>
          {FIGURES.map(([key, label]) => (
            <div className="field" key={key}>
              <label htmlFor={`${id}-${key}`}>{label}</label>
              <input
                id={`${id}-${key}`}
                type="number"
                min={0}
                // Dollars take cents; the other figures are whole numbers.
                step={key === 'dailyBudgetUsd' ? 'any' : undefined}
                placeholder="tier's"
                value={figures[key]}
                onChange={(event) => setFigures((current) => ({ ...current, [key]: event.target.value }))}
              />
            </div>
          ))}
        </div>
        <button type="submit" className="button primary">
          Save<span className="visually-hidden"> quota of {user.userId}</span>
        </button>
        {message && (
          <span className={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>
            {' '}
            {message.text}
          </span>
        )}
      </form>
    </li>
  );
}
