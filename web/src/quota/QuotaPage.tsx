import { useQuery } from '@tanstack/react-query';
import { describeError } from '../api';
import { formatTime } from '../common/format';
import { useTitle } from '../router';
import { useSession } from '../session';

function Meter({ label, used, limit, note }: { label: string; used: number; limit: number; note?: string }) {
  const id = label.toLowerCase().replace(/\W+/g, '-');
  return (
    <div className="meter card">
      <h2 id={`meter-${id}`}>{label}</h2>
      <meter min={0} max={Math.max(limit, 1)} value={used} high={Math.max(limit, 1) * 0.8} aria-labelledby={`meter-${id}`} />
      <p>
        <strong>{used}</strong> of {limit}
        {note ? <span className="muted"> · {note}</span> : null}
      </p>
    </div>
  );
}

export default function QuotaPage() {
  useTitle('Quota');
  const { client } = useSession();
  const quota = useQuery({ queryKey: ['quota'], queryFn: ({ signal }) => client.getQuota({ signal }), refetchInterval: 5000 });
  if (quota.isPending) return <p role="status">Loading…</p>;
  if (quota.isError)
    return (
      <p className="error" role="alert">
        {describeError(quota.error)}
      </p>
    );
  const data = quota.data;
  return (
    <section aria-labelledby="quota-title">
      <h1 id="quota-title">Quota</h1>
      <p>
        Tier <strong>{data.tier}</strong> · runs may last up to {data.maxRunSeconds} s.
      </p>
      <div className="meters">
        <Meter label="Running" used={data.concurrent.used} limit={data.concurrent.limit} />
        <Meter label="Queued" used={data.queued.used} limit={data.queued.limit} />
        <Meter label="Today" used={data.daily.used} limit={data.daily.limit} note={`resets ${formatTime(data.daily.resetsAt)}`} />
        <Meter label="Budget today" used={Math.round(data.budget.usedUsd * 100) / 100} limit={data.budget.limitUsd} note="USD, as the agents estimate it" />
      </div>
    </section>
  );
}
